"""Base of every validated model: immutable, strict, errors as InvalidProblemError."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from allocate.errors import InvalidProblemError, Loc

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


class Frozen(BaseModel):
    """Base of every model: immutable, no unknown fields, errors as InvalidProblemError."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise invalid(type(self).__name__, exc, data) from None

    # Tell pydantic this __init__ only wraps errors, so nested models are not validated twice.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """pydantic's entry point, with errors as InvalidProblemError."""
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise invalid(cls.__name__, exc, obj) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, *args: Any, **kwargs: Any) -> Self:
        """pydantic's JSON entry point, with errors as InvalidProblemError."""
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as exc:
            raise invalid(cls.__name__, exc, _parsed(json_data)) from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Validate a plain dict (e.g. parsed JSON) into this model."""
        return cls.model_validate(data)


_CHECK = "check"
"""The error type of `field_error`: a check across fields, reported at one of them."""


def field_error(model: str, field: str, message: str) -> ValidationError:
    """The error for a check spanning several fields (a model validator), placed at `field`.

    Raised inside a validator, pydantic prefixes it with the path of the model being validated
    (``rules[0].min_amount``), so the location is right wherever the model is nested.
    """
    return ValidationError.from_exception_data(
        model, [InitErrorDetails(type=PydanticCustomError(_CHECK, message), loc=(field,), input=None)]
    )


def invalid(model: str, exc: ValidationError, data: Any = None) -> InvalidProblemError:
    """The library's error for a pydantic ValidationError: its loc under the model's name, and
    the reason. `data` (the input validated) tells the tags of discriminated unions apart."""
    errors = exc.errors()
    err = errors[0]
    got = err.get("input")
    shown = "" if err["type"] == _CHECK or isinstance(got, (dict, list)) else f" (got {got!r})"
    more = f"; and {len(errors) - 1} more error(s)" if len(errors) > 1 else ""
    return InvalidProblemError((model, *_without_tags(tuple(err["loc"]), data)), f"{err['msg']}{shown}{more}")


def _without_tags(loc: Loc, data: Any) -> Loc:
    """pydantic's loc less the tags of discriminated unions: ``rules[0].pot.amount`` is
    ``rules[0].amount``. A tag is a name the input lacks that is the input's ``kind``."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if (
            isinstance(node, Mapping)
            and isinstance(part, str)
            and part not in node
            and node.get("kind") == part
        ):
            continue
        out.append(part)
        node = _child(node, part)
    return tuple(out)


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, Mapping):
        return node.get(part)
    if isinstance(part, int) and isinstance(node, Sequence) and not isinstance(node, str):
        return node[part] if -len(node) <= part < len(node) else None
    if isinstance(part, str) and isinstance(node, BaseModel):
        return getattr(node, part, None)
    return None


def _parsed(text: str | bytes | bytearray) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
