"""JSON text read safely: bad JSON is an InvalidProblemError naming the file, never a traceback.

Python's parser fails with a RecursionError on deeply nested text and a ValueError on an
integer of more than 4,300 digits. Here nesting is an error naming the file, and an integer
of more than `allocate.io.numbers.MAX_DIGITS` digits becomes a `LongNumber`, which every
model rejects at its field (``Problem.applications[0].cost: ... (got a 5,000-digit number)``).
"""

from __future__ import annotations

import json
from typing import Any

from allocate.domain.errors import InvalidProblemError
from allocate.io.numbers import MAX_DIGITS


class LongNumber:
    """A JSON integer too long to be any field's value; its repr is short, for messages."""

    def __init__(self, digits: str) -> None:
        self.digits = len(digits.lstrip("+-"))

    def __repr__(self) -> str:
        return f"a {self.digits:,}-digit number"


def integer(text: str) -> int | LongNumber:
    return int(text) if len(text) <= MAX_DIGITS else LongNumber(text)


def loads(text: str, name: str) -> Any:
    """The value of JSON `text` read from the file `name`."""
    try:
        return json.loads(text, parse_int=integer)
    except json.JSONDecodeError as exc:
        raise InvalidProblemError((name,), f"is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidProblemError(
            (name,), "is nested too deeply to read ([ or { inside each other)"
        ) from None
