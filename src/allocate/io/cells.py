"""Tables of cells as read from CSV files, XLSX sheets and DataFrames, shared by `io.read`
(problems) and `io.write` (award schedules read back).

A table is checked against its `Spec` (known, required and money columns) when made, and
every error is an `InvalidProblemError` whose location is a place in the file: the file (and
sheet), the row as a spreadsheet shows it (the header is row 1) and the column, e.g.
``applications.csv row 7, column cost_pounds``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from allocate.domain.errors import InvalidProblemError
from allocate.domain.schema import MAX_TEXT
from allocate.io import numbers
from allocate.io.safe import restore

Raw = str | int | float | bool | None
"""A cell as read: text from CSV; text, number or bool from XLSX."""

LIST_SEPARATOR = ";"
"""Separates the items of a list in one cell (e.g. the districts of an application)."""


@dataclass(frozen=True)
class Spec:
    """The columns a table may have."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    numbered: tuple[str, ...] = ()
    """Prefixes of numbered columns (PREFIX1..PREFIXn)."""
    money: tuple[str, ...] = ()
    """Money columns given as NAME_pence or NAME_pounds (one of the two)."""
    any_columns: bool = False
    one_row: bool = False
    """The table holds exactly one data row (e.g. the budget)."""


@dataclass(frozen=True)
class Table:
    """One sheet or CSV file: where it came from, its columns and its non-blank rows."""

    name: str
    source: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, dict[str, Raw]], ...]
    """(row number as a spreadsheet shows it, or a DataFrame's index label; cells by column)."""


def place(source: str, row: object = None, column: str | None = None) -> str:
    """A place in a file written out: ``applications.csv row 7, column cost_pounds``."""
    at = source if row is None else f"{source} row {row}"
    return at if column is None else f"{at}, column {column}"


def empty(v: Raw) -> bool:
    """A blank cell (nothing, or only spaces)."""
    return v is None or (isinstance(v, str) and not v.strip())


def numbered_columns(columns: Iterable[str], prefix: str) -> list[str]:
    """The columns PREFIX1..PREFIXn of a table, in number order."""
    found = sorted(
        (int(m.group(1)), c) for c in columns if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", c))
    )
    return [c for _, c in found]


class Row:
    """One row of a table, with parsers whose errors name file, row and column."""

    def __init__(self, table: Table, number: Any, cells: dict[str, Raw]) -> None:
        self.table = table
        self.line = number
        self.cells = cells

    def fail(self, column: str | None, reason: str) -> InvalidProblemError:
        """The error for this row (and column)."""
        return InvalidProblemError((place(self.table.source, self.line, column),), reason)

    def has(self, column: str) -> bool:
        return not empty(self.cells.get(column))

    def text(self, column: str, default: str = "") -> str:
        """The cell as a name: spaces around it are dropped (an empty cell is `default`)."""
        v = self.cells.get(column)
        if empty(v):
            return default
        return restore(_as_text(v).strip())

    def free_text(self, column: str, default: str = "") -> str:
        """The cell as free text (a title), exactly as written: spaces are kept."""
        v = self.cells.get(column)
        if v is None or v == "":
            return default
        return restore(_as_text(v))

    def given(self, column: str) -> bool:
        """The cell holds something, if only spaces."""
        return self.cells.get(column) not in (None, "")

    def required_text(self, column: str) -> str:
        if not self.has(column):
            raise self.fail(column, "is empty but required")
        return self.text(column)

    def names(self, column: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.text(column).split(LIST_SEPARATOR) if p.strip())

    def decimal(self, column: str, kind: numbers.Kind = "number") -> Decimal | None:
        """The cell's number, exactly (see `allocate.io.numbers`): `kind` says which numbers are
        ambiguous in it."""
        v = self.cells.get(column)
        if empty(v):
            return None
        if isinstance(v, bool):
            raise self.fail(column, f"{v!r} is not a number")
        try:
            if isinstance(v, float):
                return numbers.from_float(v)
            text = str(v).strip()
            return numbers.parse(text.removeprefix("£") if kind == "pounds" else text, kind)
        except numbers.NumberError as exc:
            raise self.fail(column, str(exc)) from None

    def number(self, column: str) -> float | None:
        d = self.decimal(column)
        return None if d is None else float(d)

    def integer(self, column: str) -> int | None:
        d = self.decimal(column, "whole")
        if d is None:
            return None
        if Fraction(d).denominator != 1:
            raise self.fail(column, f"{self.cells[column]!r} is not a whole number")
        return int(d)

    def boolean(self, column: str) -> bool:
        v = self.cells.get(column)
        if empty(v):
            return False
        if isinstance(v, bool):
            return v
        text = str(int(v) if isinstance(v, float) and v.is_integer() else v).strip().lower()
        if text in ("true", "yes", "y", "1"):
            return True
        if text in ("false", "no", "n", "0"):
            return False
        raise self.fail(column, f"{v!r} is not true/false/yes/no/1/0")

    def pence(self, column: str, pounds: bool) -> int | None:
        d = self.decimal(column, "pounds" if pounds else "whole")
        if d is None:
            return None
        p = Fraction(d) * 100 if pounds else Fraction(d)
        if p.denominator != 1:
            what = "has fractions of a penny" if pounds else "is not a whole number of pence"
            raise self.fail(column, f"{self.text(column)!r} {what}")
        return int(p)

    def money(self, base: str) -> int | None:
        """A NAME_pence or NAME_pounds cell, in pence (None if empty)."""
        column, pounds = self.money_column(base)
        return None if column is None else self.pence(column, pounds)

    def money_column(self, base: str) -> tuple[str | None, bool]:
        for unit in ("pence", "pounds"):
            if f"{base}_{unit}" in self.table.columns:
                return f"{base}_{unit}", unit == "pounds"
        return None, False

    def required_money_column(self, base: str) -> tuple[str, bool]:
        """The column of a required amount (BASE_pence or BASE_pounds) and whether it is in pounds."""
        column, pounds = self.money_column(base)
        if column is None:  # the table's columns were checked against its Spec: not reached
            raise self.fail(f"{base}_pence", f"is missing (give {base}_pence or {base}_pounds)")
        return column, pounds

    def numbered(self, prefix: str, *, pounds: bool | None = None) -> tuple[Any, ...] | None:
        """The cells PREFIX1..PREFIXn in order (None if all empty; an error if only some are)."""
        cols = numbered_columns(self.table.columns, prefix)
        if not cols or not any(self.has(c) for c in cols):
            return None
        missing = [c for c in cols if not self.has(c)]
        if missing:
            raise self.fail(missing[0], f"is empty but {cols[0]}..{cols[-1]} are given")
        if pounds is None:
            return tuple(self.number(c) for c in cols)
        return tuple(self.pence(c, pounds) for c in cols)


def _as_text(v: Raw) -> str:
    """A cell as text: a spreadsheet's whole-number float (an id typed as 7) is "7"."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def rows(table: Table) -> list[Row]:
    """The table's rows, ready to parse."""
    return [Row(table, n, cells) for n, cells in table.rows]


def _check_columns(table: Table, spec: Spec) -> None:
    if spec.any_columns:
        allowed: set[str] | None = None
    else:
        allowed = {*spec.required, *spec.optional}
        allowed |= {f"{m}_{u}" for m in spec.money for u in ("pence", "pounds")}
    for column in table.columns:
        if (
            allowed is not None
            and column not in allowed
            and not any(re.fullmatch(re.escape(p) + r"\d+", column) for p in spec.numbered)
        ):
            known = ", ".join(sorted(allowed))
            raise InvalidProblemError(
                (place(table.source, column=column),),
                f"is not a known column of {table.name} (known: {known}; numbered: "
                f"{', '.join(p + 'N' for p in spec.numbered) or 'none'})",
            )
    for column in spec.required:
        if column not in table.columns:
            raise InvalidProblemError((place(table.source, column=column),), "is missing (required column)")
    for m in spec.money:
        both = [f"{m}_{u}" for u in ("pence", "pounds") if f"{m}_{u}" in table.columns]
        if not both:
            raise InvalidProblemError(
                (place(table.source, column=f"{m}_pence"),), f"is missing (give {m}_pence or {m}_pounds)"
            )
        if len(both) == 2:
            raise InvalidProblemError(
                (place(table.source, column=f"{m}_pounds"),), f"give {m}_pence or {m}_pounds, not both"
            )
    if spec.one_row and len(table.rows) > 1:
        raise InvalidProblemError((place(table.source, table.rows[1][0]),), "this table has exactly one row")


def table(
    name: str, source: str, header: Sequence[Raw], body: Iterable[tuple[Any, Sequence[Raw]]], spec: Spec
) -> Table:
    """A table from a header row and numbered rows (blank rows dropped), checked against `spec`."""
    columns = [("" if h is None else str(h)).strip().lower() for h in header]
    kept: list[tuple[Any, dict[str, Raw]]] = []
    for number, values in body:
        if all(empty(v) for v in values):
            continue
        if len(values) > len(columns) and any(not empty(v) for v in values[len(columns) :]):
            raise InvalidProblemError((place(source, number),), "has more cells than the header row")
        cells = {c: v for c, v in zip(columns, values, strict=False) if c}
        for c, v in zip(columns, values, strict=False):
            if not c and not empty(v):
                raise InvalidProblemError(
                    (place(source, number),), f"has a value {v!r} under an empty header"
                )
        kept.append((number, cells))
    named = tuple(c for c in columns if c)
    dup = [c for c in named if named.count(c) > 1]
    if dup:
        raise InvalidProblemError((place(source, column=dup[0]),), "appears twice in the header row")
    made = Table(name, source, named, tuple(kept))
    _check_columns(made, spec)
    return made


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a leading BOM is dropped); anything else is a clear InvalidProblemError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidProblemError((name,), "is UTF-16 text; save it as UTF-8 (in Excel: 'CSV UTF-8')")
    data = data.removeprefix(b"\xef\xbb\xbf")
    if (nul := data.find(b"\x00")) >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise InvalidProblemError(
            (name,),
            f"holds a NUL byte on line {line}: it may be UTF-16 text without a "
            "byte order mark, or not text at all; save it as UTF-8 (in Excel: 'CSV UTF-8')",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidProblemError(
            (name,),
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); it may be Windows-1252 "
            "or Latin-1: save it as UTF-8 (in Excel: 'CSV UTF-8')",
        ) from None


def read_bytes(path: Path, name: str | None = None) -> bytes:
    """A file's content; a folder or an unreadable file is an InvalidProblemError naming it."""
    name = name or path.name
    if path.is_dir():
        raise InvalidProblemError((name,), "is a folder, not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidProblemError((name,), f"cannot be read ({exc.strerror or exc})") from None


FIELD_LIMIT = MAX_TEXT + 1
"""The longest CSV cell read: the longest free text, plus a formula-escape apostrophe."""


def read_csv_table(path: Path, name: str, spec: Spec) -> Table:
    """One CSV file as a table (strict CSV: a stray or unclosed quote is an error with its line)."""
    source = path.name
    text = decode(read_bytes(path), source)
    if not text.strip():
        raise InvalidProblemError((source,), "is empty (expected a header row and data rows)")
    if csv.field_size_limit() < FIELD_LIMIT:  # process-wide, only ever raised (default 128 KiB)
        csv.field_size_limit(FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[list[str]] = []
    try:
        records.extend(reader)
    except csv.Error as exc:
        reason = str(exc)
        if "field larger" in reason:
            reason = f"a cell is longer than {MAX_TEXT:,} characters"
        raise InvalidProblemError((place(source, reader.line_num),), f"is not valid CSV: {reason}") from None
    return table(name, source, records[0], ((i + 1, r) for i, r in enumerate(records) if i > 0), spec)
