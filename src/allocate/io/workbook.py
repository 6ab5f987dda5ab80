"""The sheets of an XLSX workbook as rows of plain cells, with nothing read silently wrong.

A formula cell is read as the result the spreadsheet saved with it; a formula saved without
a result (a workbook written by a program that does not calculate) is an error, as is a
cell holding a spreadsheet error (``#DIV/0!``): either would otherwise be read as an empty
or a text cell. Errors name the workbook, sheet, row and column.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from allocate.domain.errors import InvalidProblemError
from allocate.io.cells import Raw, place, read_bytes

Sheet = tuple[str, list[tuple[Raw, ...]]]
"""A sheet's title and its rows (the first is the header)."""


def read_sheets(path: Path) -> list[Sheet]:
    """Every sheet of the workbook at `path`, in order."""
    from openpyxl.utils.exceptions import InvalidFileException

    read_bytes(path)  # a folder or an unreadable file: a clear error naming it
    try:
        sheets = _read(path, data_only=False)
        if any(formulas for _, _, formulas in sheets):
            results = {title: rows for title, rows, _ in _read(path, data_only=True)}
            return [
                _with_results(path, title, rows, formulas, results[title]) for title, rows, formulas in sheets
            ]
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, EOFError) as exc:
        raise InvalidProblemError((path.name,), f"is not a readable XLSX workbook ({exc})") from None
    return [(title, rows) for title, rows, _ in sheets]


def _read(path: Path, *, data_only: bool) -> list[tuple[str, list[tuple[Raw, ...]], list[tuple[int, int]]]]:
    """(title, rows, positions of formula cells) of each sheet."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=data_only)
    out = []
    try:
        for sheet in book.worksheets:
            source = f"{path.name} sheet {sheet.title}"
            rows: list[tuple[Raw, ...]] = []
            formulas: list[tuple[int, int]] = []
            header: tuple[Raw, ...] = ()
            try:
                for r, line in enumerate(sheet.iter_rows(), start=1):
                    values = []
                    for c, cell in enumerate(line):
                        kind = getattr(cell, "data_type", None)
                        if kind == "f":
                            formulas.append((r, c))
                        elif kind == "e":
                            column = str(header[c]) if c < len(header) and header[c] is not None else None
                            raise InvalidProblemError(
                                (place(source, r, column),), f"holds the spreadsheet error {cell.value}"
                            )
                        values.append(_plain(cell.value))
                    rows.append(tuple(values))
                    if r == 1:
                        header = rows[0]
            except ValueError as exc:  # openpyxl failing on a cell, e.g. a 5,000-digit number
                raise InvalidProblemError((source,), f"holds a cell that cannot be read ({exc})") from None
            out.append((sheet.title, rows, formulas))
    finally:
        book.close()
    return out


def _with_results(
    path: Path,
    title: str,
    rows: list[tuple[Raw, ...]],
    formulas: list[tuple[int, int]],
    results: list[tuple[Raw, ...]],
) -> Sheet:
    """The rows with each formula replaced by its saved result (an error if it has none)."""
    out = [list(r) for r in rows]
    for r, c in formulas:
        value = results[r - 1][c] if r - 1 < len(results) and c < len(results[r - 1]) else None
        if value is None:
            header = rows[0]
            column = str(header[c]) if c < len(header) and header[c] is not None else None
            raise InvalidProblemError(
                (place(f"{path.name} sheet {title}", r, column),),
                f"is a formula ({rows[r - 1][c]}) saved without its result: open and save the workbook "
                "in Excel or LibreOffice, or type the value",
            )
        out[r - 1][c] = value
    return title, [tuple(r) for r in out]


def _plain(v: Any) -> Raw:
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)
