"""Base of every validated model: immutable, strict, errors as InvalidProblemError."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from allocate.errors import InvalidProblemError

MAX_PENCE = 10**12
"""The largest amount of money (pence, £10bn) in a round: every backend is checked up to it
(docs/engine.md). Sums of such amounts stay exact in floating point, and a thousandth of a
penny stays far above floating-point noise on them."""
MAX_COUNT = 10**9
"""The largest count (people, awards, organisations) a round may state."""

Pence = Annotated[
    int, Field(strict=True, gt=0, le=MAX_PENCE, description="an amount of money in whole pence (≤ £10bn)")
]
PenceOrZero = Annotated[int, Field(strict=True, ge=0, le=MAX_PENCE, description="pence (≤ £10bn)")]
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
Score = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]
Name = Annotated[str, Field(strict=True, min_length=1, max_length=200)]


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


class Frozen(BaseModel):
    """Base of every model: immutable, no unknown fields, errors as InvalidProblemError."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise invalid(type(self).__name__, exc) from None

    # Tell pydantic this __init__ only wraps errors, so nested models are not validated twice.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """pydantic's entry point, with errors as InvalidProblemError."""
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise invalid(cls.__name__, exc) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, *args: Any, **kwargs: Any) -> Self:
        """pydantic's JSON entry point, with errors as InvalidProblemError."""
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as exc:
            raise invalid(cls.__name__, exc) from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Validate a plain dict (e.g. parsed JSON) into this model."""
        return cls.model_validate(data)


def invalid(model: str, exc: ValidationError) -> InvalidProblemError:
    """The library's error for a pydantic ValidationError: field path first, then the reason."""
    err = exc.errors()[0]
    where = _location(tuple(err["loc"]))
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
    more = f"; and {len(exc.errors()) - 1} more error(s)" if len(exc.errors()) > 1 else ""
    return InvalidProblemError(f"{model}.{where}", f"{err['msg']}{shown}{more}")
