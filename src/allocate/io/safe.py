"""Spreadsheet safety: neutralise text cells that a spreadsheet would run as a formula.

A text cell starting with ``= + - @``, a tab or a carriage return is a formula (or becomes
one) in Excel, LibreOffice and Google Sheets: a title like ``=HYPERLINK("http://evil", "x")``
in a published award schedule would run on the reader's machine. Every CSV and XLSX cell
allocate writes goes through `neutralise`, which prefixes such text with an apostrophe (the
spreadsheet convention for "this is text"); readers undo it with `restore`, so files
round-trip exactly. Numbers are written as numbers and are never changed.
"""

from __future__ import annotations

from collections.abc import Iterable

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a text cell a formula."""

Cell = str | int | float | bool | None


def _needs_prefix(text: str) -> bool:
    # A text already starting with an apostrophe before a dangerous character is prefixed
    # too, so that `restore` removes exactly the apostrophes `neutralise` added.
    if text.startswith(DANGEROUS):
        return True
    return text.startswith("'") and _needs_prefix(text[1:])


def neutralise(value: Cell) -> Cell:
    """The cell as written: dangerous text gets a leading apostrophe, anything else is unchanged."""
    if isinstance(value, str) and _needs_prefix(value):
        return "'" + value
    return value


def neutralise_row(values: Iterable[Cell]) -> list[Cell]:
    """`neutralise` applied to every cell of a row."""
    return [neutralise(v) for v in values]


def restore(text: str) -> str:
    """Undo `neutralise` on a text cell read back from a file."""
    if text.startswith("'") and _needs_prefix(text[1:]):
        return text[1:]
    return text
