"""Numbers written in cells: one notation, exact, and bounded before any arithmetic.

A number in a cell is digits with at most one decimal point (``48000.50``), an optional
sign and exponent (``1.5e3``), and optionally commas between groups of three digits
(``1,234,567.89``, the UK notation). Anything a reader in another locale could take for a
different number is refused with a message saying how to write it: a decimal comma
(``48000,50``), stray commas (``4,8,0,0,0``), points between thousands (``48.000.000``), and a
single group of three after one comma or point where both readings are valid for the cell
(``48,500`` pounds or ``1,250`` as a need: 48500, or 48.5?). A cell is at most `MAX_DIGITS`
characters and every value lies within `MIN_MAGNITUDE` .. `MAX_MAGNITUDE` (or is 0), so
converting it to an int or a float never overflows or takes long.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

MAX_DIGITS = 100
"""The longest text read as a number."""
MAX_MAGNITUDE = Decimal(10) ** 18
"""Every number read is smaller than this (every field's own limit is far below it)."""
MIN_MAGNITUDE = Decimal(10) ** -300
"""Every number read other than 0 is at least this large (a float keeps it exactly enough)."""

_PLAIN = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_COMMAS = re.compile(r"[+-]?[1-9]\d{0,2}(,\d{3})+(\.\d+)?")
_ONE_GROUP = re.compile(r"[+-]?[1-9]\d{0,2}[.,]\d{3}")
_POINTS = re.compile(r"[+-]?\d{1,3}(\.\d{3}){2,}(,\d+)?|[+-]?\d{1,3}(\.\d{3})+,\d+")
_NOT_FINITE = {"nan", "inf", "infinity", "+inf", "-inf", "+infinity", "-infinity", "-nan", "+nan"}


Kind = Literal["number", "whole", "pounds"]
"""What a cell holds: any number, a whole number (pence, a count), or pounds (whole pence)."""


def _both_valid(text: str, kind: Kind) -> bool:
    """Whether ``D,DDD`` / ``D.DDD`` is valid both as D thousand DDD and as D point DDD."""
    if "," in text and kind == "number":
        return True
    if "." in text and kind == "number":
        return False  # a point is the decimal point
    fraction = text[-3:]
    return fraction == "000" if kind == "whole" else fraction.endswith("0")


class NumberError(ValueError):
    """Why a cell is not a number allocate reads (the message says how to write it)."""


def parse(text: str, kind: Kind = "number") -> Decimal:
    """The number written in `text`, exactly.

    `kind` says what the cell holds, which decides what is ambiguous: a single group of three
    digits after a comma or point (``48,500``, ``48.000``) is refused when both readings, as a
    thousands separator and as a decimal mark, are valid for the cell (a decimal-comma reading
    of ``90,254`` is no whole number, so that population is 90254).
    """
    text = text.strip()
    shown = repr(text) if len(text) <= 40 else f"{text[:30]!r}… ({len(text)} characters)"
    if len(text) > MAX_DIGITS:
        raise NumberError(f"{shown} is too long to be a number")
    if text.lower() in _NOT_FINITE:
        raise NumberError(f"{shown} is not a finite number")
    if _ONE_GROUP.fullmatch(text) and _both_valid(text, kind):
        whole = text.replace(",", "").replace(".", "")
        decimal = Decimal(text.replace(",", "."))
        raise NumberError(
            f"{shown} is ambiguous: {whole} (a thousands separator) or {decimal.normalize():f} (a decimal "
            f"{'comma' if ',' in text else 'point'})? Write it without a thousands separator, with a "
            "point for decimals"
        )
    if _PLAIN.fullmatch(text):
        number = Decimal(text)
    elif _COMMAS.fullmatch(text):
        number = Decimal(text.replace(",", ""))
    elif _POINTS.fullmatch(text):
        raise NumberError(
            f"{shown} uses points between thousands (and perhaps a decimal comma): write "
            f"{text.replace('.', '').replace(',', '.')} (a point for decimals, no thousands separators)"
        )
    elif "," in text:
        example = text.replace(",", ".") if text.count(",") == 1 and "." not in text else "48000.50"
        raise NumberError(
            f"{shown} has a comma that is not between groups of three digits (a decimal comma?): "
            f"write a point for decimals and no thousands separators, e.g. {example}"
        )
    else:
        raise NumberError(f"{shown} is not a number")
    if number.copy_abs() >= MAX_MAGNITUDE:
        raise NumberError(f"{shown} is too large (every number allocate reads is below 10^18)")
    if number and number.copy_abs() < MIN_MAGNITUDE:
        raise NumberError(f"{shown} is too close to 0 (every number other than 0 is at least 10^-300)")
    return number


def from_float(value: float) -> Decimal:
    """A spreadsheet's number cell: the shortest decimal that reads back as the float."""
    return parse(repr(value))
