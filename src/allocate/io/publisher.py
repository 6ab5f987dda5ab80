"""Who publishes a round's grants: funder, identifiers, geography codes, department.

Used by the 360Giving and Transparency Code writers. A publisher comes from a workbook sheet
``publisher``, a ``publisher.csv`` in a round's folder, a ``"publisher"`` section of a round's
JSON, a file of its own, code, or command-line flags. East Sussex County Council's settings
(`Publisher.east_sussex`) are used only when no publisher is given and every district of the
round is one of East Sussex's: another council's round without a publisher is an error that
lists what to supply.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from allocate.domain.errors import InvalidProblemError
from allocate.domain.model import Problem
from allocate.domain.schema import Frozen, Name
from allocate.io import cells, jsontext
from allocate.io.cells import Raw, Row, Spec, decode, empty

EAST_SUSSEX_CODES: dict[str, str] = {
    "Eastbourne": "E07000061",
    "Hastings": "E07000062",
    "Lewes": "E07000063",
    "Rother": "E07000064",
    "Wealden": "E07000065",
}
"""ONS codes of the East Sussex non-metropolitan districts (geoCodeType NMD)."""

TABLE = "publisher"
"""The sheet (workbook), file stem (CSV folder) or JSON key that holds a round's publisher."""

SPEC = Spec(
    ("funder_id", "funder_name", "prefix"),
    (
        "department",
        "programme",
        "award_date",
        "area_name",
        "area_code",
        "area_code_type",
        "district_codes",
        "district_code_type",
        "organisation_ids",
    ),
    one_row=True,
)
"""The columns of a publisher table (one row); the two mappings are ``;`` lists of NAME=CODE."""

_PAIRS = ("district_codes", "organisation_ids")

HOW_TO_GIVE = (
    "as a 'publisher' sheet in the workbook, publisher.csv in the round's folder, a \"publisher\" "
    "section in the round's JSON, or the command-line flags --publisher FILE, --funder-id, "
    "--funder-name, --prefix, --department, --area-name, --area-code and --district-code NAME=CODE"
)


class Publisher(Frozen):
    """The publishing council and how identifiers and locations are written."""

    funder_id: Name
    """The funder's org-id, e.g. GB-LAE-KEN."""
    funder_name: Name
    prefix: Name
    """The publisher's registered 360Giving prefix (``360G-...``): grant identifiers start with it."""
    department: str = ""
    """The department awarding the grants (Transparency Code; 360Giving Funding Org:Department)."""
    programme: str = ""
    """The grant programme's title (default: the round's name)."""
    award_date: date | None = None
    """Default: the day the file is written."""
    modified: datetime | None = None
    area_name: str = ""
    """The council's area, the location of county-wide awards (e.g. Kent)."""
    area_code: str = ""
    """ONS code of the area (e.g. E10000016); also the Transparency Code organisation code."""
    area_code_type: str = "CTY"
    district_codes: dict[str, str] = Field(default_factory=dict)
    """District id -> ONS code (e.g. Canterbury -> E07000106)."""
    district_code_type: str = "NMD"
    organisation_ids: dict[str, str] = Field(default_factory=dict)
    """Organisation name -> identifier (e.g. GB-CHC-1234567); others get a 360G- identifier."""

    @field_validator("prefix")
    @classmethod
    def _registered(cls, v: str) -> str:
        if not v.startswith("360G-"):
            raise ValueError("must be the publisher's registered 360Giving prefix, starting '360G-'")
        return v

    @classmethod
    def east_sussex(cls, **changes: Any) -> Publisher:
        """East Sussex County Council (the reference round's publisher)."""
        base: dict[str, Any] = {
            "funder_id": "GB-LAE-ESX",
            "funder_name": "East Sussex County Council",
            "prefix": "360G-ESCC",
            "department": "Adult Social Care",
            "area_name": "East Sussex",
            "area_code": "E10000011",
            "district_codes": dict(EAST_SUSSEX_CODES),
        }
        return cls(**{**base, **changes})


def publisher_for(problem: Problem, publisher: Publisher | None, *, department: bool = False) -> Publisher:
    """The publisher to write `problem`'s grants under, checked to cover every district of the round.

    With none given, East Sussex's, but only for a round whose districts are all East Sussex's.
    `department`: the department is required too (the Transparency Code asks for it).
    """
    districts = [d.id for d in problem.districts]
    county_wide = [a.id for a in problem.applications if not a.districts]
    if publisher is None:
        foreign = [d for d in districts if d not in EAST_SUSSEX_CODES]
        if foreign:
            raise InvalidProblemError(
                ("Publisher",),
                f"is required: the round's districts ({', '.join(foreign)}) are not East Sussex's, so "
                "East Sussex County Council's details are not used. Give funder_id (e.g. GB-LAE-KEN), "
                "funder_name, prefix (your registered 360G- prefix), department, "
                + ("area_name and area_code (for county-wide awards), " if county_wide else "")
                + f"and district_codes for {', '.join(districts)}; {HOW_TO_GIVE}",
            )
        publisher = Publisher.east_sussex()
    missing = [d for d in districts if not publisher.district_codes.get(d)]
    if missing:
        raise InvalidProblemError(
            ("Publisher", "district_codes"),
            f"has no 360Giving (ONS) code for district {', '.join(repr(d) for d in missing)}: give "
            f"NAME=CODE for each, e.g. {missing[0]}=E07000106; {HOW_TO_GIVE}",
        )
    if county_wide and not (publisher.area_name and publisher.area_code):
        raise InvalidProblemError(
            ("Publisher", "area_code" if publisher.area_name else "area_name"),
            f"is required: applications {', '.join(county_wide[:5])}"
            f"{' ...' if len(county_wide) > 5 else ''} are county-wide (give area_name and area_code)",
        )
    if department and not publisher.department:
        raise InvalidProblemError(
            ("Publisher", "department"), f"is required for the Transparency Code CSV; {HOW_TO_GIVE}"
        )
    return publisher


# ---------------------------------------------------------------------------- reading


def read_publisher(path: str | Path) -> Publisher | None:
    """The publisher held with a round (sheet, publisher.csv, JSON section) or in a file of its own.

    A .json file holds the fields, at its top level or under ``"publisher"``; a .csv file is a
    publisher table; an .xlsx workbook has a ``publisher`` sheet. None if a round holds none.
    """
    return None if (fields := publisher_fields(path)) is None else _validated(fields, str(Path(path).name))


def publisher_fields(path: str | Path) -> dict[str, Any] | None:
    """The publisher fields found at `path` (see `read_publisher`), not yet validated, so that
    command-line flags can fill in or override some of them."""
    path = Path(path)
    if path.is_dir():
        csv_file = next((p for p in path.iterdir() if p.name.lower() == f"{TABLE}.csv"), None)
        return None if csv_file is None else _from_table(cells.read_csv_table(csv_file, TABLE, SPEC))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _from_table(cells.read_csv_table(path, TABLE, SPEC))
    if suffix == ".xlsx":
        return _from_workbook(path)
    if suffix == ".json":
        data = jsontext.loads(decode(cells.read_bytes(path), path.name), path.name)
        if isinstance(data, dict) and isinstance(data.get(TABLE), dict):
            return dict(data[TABLE])
        if isinstance(data, dict) and "funder_id" in data:
            return dict(data)
        return None
    raise InvalidProblemError(
        (path.name,), "unknown publisher format (expected .json, .csv, .xlsx or a folder)"
    )


def _validated(fields: Mapping[str, Any], source: str) -> Publisher:
    try:
        return Publisher.from_dict(dict(fields))
    except InvalidProblemError as exc:
        raise InvalidProblemError((source, *exc.loc), exc.reason) from None


def _from_workbook(path: Path) -> dict[str, Any] | None:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    cells.read_bytes(path)  # a folder or an unreadable file: an error naming it
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, EOFError) as exc:
        raise InvalidProblemError((path.name,), f"is not a readable XLSX workbook ({exc})") from None
    try:
        sheet = next((s for s in book.worksheets if s.title.strip().lower() == TABLE), None)
        if sheet is None:
            return None
        rows = [tuple(_cell(v) for v in r) for r in sheet.iter_rows(values_only=True)]
        source = f"{path.name} sheet {sheet.title}"
    finally:
        book.close()
    if not rows:
        raise InvalidProblemError((source,), "is empty (expected a header row and one data row)")
    body = ((i + 1, r) for i, r in enumerate(rows) if i > 0)
    return _from_table(cells.table(TABLE, source, rows[0], body, SPEC))


def _cell(v: object) -> Raw:
    if isinstance(v, datetime):  # a date typed into Excel
        return v.date().isoformat() if v.time() == datetime.min.time() else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return v if v is None or isinstance(v, (str, int, float, bool)) else str(v)


def _from_table(table: cells.Table) -> dict[str, Any]:
    found = cells.rows(table)
    if not found:
        raise InvalidProblemError((table.source,), "has a header but no data row")
    row = found[0]
    fields: dict[str, Any] = {}
    for column in table.columns:
        if not row.has(column) or empty(row.cells[column]):
            continue
        if column in _PAIRS:
            fields[column] = _pairs(row, column)
        elif column == "award_date":
            text = row.text(column)
            try:
                fields[column] = date.fromisoformat(text)
            except ValueError:
                raise row.fail(column, f"{text!r} is not a date (YYYY-MM-DD)") from None
        else:
            fields[column] = row.text(column)
    return fields


def _pairs(row: Row, column: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in row.names(column):
        name, eq, code = item.partition("=")
        if not eq or not name.strip() or not code.strip():
            raise row.fail(column, f"{item!r} is not NAME=CODE (items separated by ';')")
        out[name.strip()] = code.strip()
    return out


def parse_pair(text: str, what: str) -> tuple[str, str]:
    """NAME=CODE from a command-line flag (ValueError naming the flag otherwise)."""
    m = re.fullmatch(r"\s*([^=]+?)\s*=\s*(\S+)\s*", text)
    if m is None:
        raise ValueError(f"{what}: {text!r} is not NAME=CODE")
    return m.group(1), m.group(2)


# ---------------------------------------------------------------------------- command line

_FLAGS = {
    "funder_id": "--funder-id",
    "funder_name": "--funder-name",
    "prefix": "--prefix",
    "department": "--department",
    "area_name": "--area-name",
    "area_code": "--area-code",
    "award_date": "--award-date",
}


def add_flags(parser: argparse.ArgumentParser) -> None:
    """The publisher's command-line flags (they fill in or override the round's publisher)."""
    group = parser.add_argument_group(
        "publisher (360Giving and Transparency Code outputs; default: the round's publisher sheet/file)"
    )
    group.add_argument(
        "--publisher", type=Path, default=None, metavar="FILE", help="publisher .json/.csv/.xlsx"
    )
    for field, flag in _FLAGS.items():
        group.add_argument(flag, dest=f"pub_{field}", default=None)
    group.add_argument(
        "--district-code",
        dest="pub_district_codes",
        action="append",
        default=None,
        metavar="NAME=CODE",
        help="ONS code of a district (repeat for each)",
    )


def from_flags(args: argparse.Namespace, round_path: Path | None) -> Publisher | None:
    """The publisher from --publisher (or the round's own), with the flags given on top (None if none)."""
    source = args.publisher or round_path
    fields = (publisher_fields(source) if source is not None else None) or {}
    for field in _FLAGS:
        if (value := getattr(args, f"pub_{field}", None)) is not None:
            fields[field] = value
    if args.pub_district_codes:
        codes = dict(fields.get("district_codes", {}))
        for text in args.pub_district_codes:
            try:
                name, code = parse_pair(text, "--district-code")
            except ValueError as exc:
                raise InvalidProblemError(("--district-code",), str(exc).split(": ", 1)[1]) from None
            codes[name] = code
        fields["district_codes"] = codes
    if not fields:
        return None
    return _validated(fields, "publisher" if source is None else Path(source).name)
