"""Base of every validated model: immutable, strict, errors as InvalidProblemError."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from allocate.domain.errors import InvalidProblemError, Loc

MAX_PENCE = 10**12
"""The largest amount of money (pence, £10bn) in a round: every backend is checked up to it
(docs/engine.md). Sums of such amounts stay exact in floating point, and a thousandth of a
penny stays far above floating-point noise on them."""
MAX_COUNT = 10**9
"""The largest count (people, awards, organisations) a round may state."""
MAX_SCORE = 10**6
"""The largest score scale maximum (outcome or social); every score lies in 0..its scale's maximum."""
MAX_WEIGHT = 10**12
"""The largest need, social objective weight or equality ratio: relative weights, so any
range is expressible, and sums of them stay far from floating-point overflow."""
MAX_TEXT = 1_000_000
"""The most characters of a free text (a title, a panel, a round's name)."""

Pence = Annotated[
    int, Field(strict=True, gt=0, le=MAX_PENCE, description="an amount of money in whole pence (≤ £10bn)")
]
PenceOrZero = Annotated[int, Field(strict=True, ge=0, le=MAX_PENCE, description="pence (≤ £10bn)")]
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
Score = Annotated[float, Field(strict=True, ge=0, le=MAX_SCORE, allow_inf_nan=False)]
Weight = Annotated[float, Field(strict=True, ge=0, le=MAX_WEIGHT, allow_inf_nan=False)]


def unstorable(text: str) -> str | None:
    """The first character of `text` no file format can hold (None if all can).

    Those are the characters XML 1.0 forbids (control characters other than tab, newline
    and carriage return; U+FFFE, U+FFFF) and lone surrogates, which no UTF encoding allows:
    an XLSX cell cannot store them, and a NUL is a sign of a file read in the wrong encoding.
    """
    found = _UNSTORABLE.search(text)
    return None if found is None else found.group()


_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(v: str) -> str:
    if (c := unstorable(v)) is not None:
        raise PydanticCustomError(
            "text",
            f"holds the character U+{ord(c):04X} at position {v.index(c) + 1}, which no file can store",
        )
    return v


def _name(v: str) -> str:
    if v != v.strip():
        raise PydanticCustomError("text", "has leading or trailing spaces")
    return _text(v)


def _key(v: str) -> str:
    if ";" in v:
        raise PydanticCustomError("text", "holds ';', which separates the items of a list")
    return _name(v)


Text = Annotated[str, Field(strict=True, max_length=MAX_TEXT), AfterValidator(_text)]
"""Free text: any characters a file can store (see `unstorable`), kept exactly as given."""
Name = Annotated[str, Field(strict=True, min_length=1, max_length=200), AfterValidator(_name)]
"""An id or a name: no leading or trailing spaces (spreadsheet cells are trimmed)."""
Key = Annotated[Name, AfterValidator(_key)]
"""A name that can be an item of a `;`-separated list (districts, client groups, ...)."""


def no_repeats(v: tuple[str, ...]) -> tuple[str, ...]:
    """A list validator: each item at most once (the error names the first repeated one)."""
    if len(set(v)) != len(v):
        dup = next(k for k, c in Counter(v).items() if c > 1)
        raise ValueError(f"lists {dup!r} twice")
    return v


def short(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to about `limit` characters, for messages (a 5,000-digit number is
    "5000 digits" rather than the number)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return f"a number of about {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}…{text[-4:]}"


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
    shown = "" if err["type"] == _CHECK or isinstance(got, (dict, list)) else f" (got {short(got)})"
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
    except (ValueError, RecursionError):
        return None
