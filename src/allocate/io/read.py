"""Read a Problem from JSON, a folder of CSV files, an XLSX workbook or a pandas DataFrame.

The tabular layout (one sheet or CSV file per table) is documented in ``docs/data.md`` and
``examples/README.md``. Money is exact: pence are whole numbers, pounds are parsed with
`decimal.Decimal` and a fraction of a penny is an error. Every error is an
`InvalidProblemError` naming the file, the row (as a spreadsheet shows it: the header is
row 1) and the column.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from allocate.errors import InvalidProblemError
from allocate.io.safe import restore
from allocate.model import Budget, ClientGroup, District, Problem, Weights
from allocate.rules import Rule

if TYPE_CHECKING:
    import pandas as pd

Raw = str | int | float | bool | None
"""A cell as read: text from CSV; text, number or bool from XLSX."""

TABLES = ("applications", "variants", "districts", "client_groups", "budget", "rules", "weights", "settings")
REQUIRED_TABLES = ("applications", "districts", "client_groups", "budget")
LIST_SEPARATOR = ";"
_RULE_LIST_FIELDS = ("cells", "applications", "ratio")


@dataclass(frozen=True)
class _Spec:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    numbered: tuple[str, ...] = ()
    money: tuple[str, ...] = ()
    """Money columns given as NAME_pence or NAME_pounds (one of the two)."""
    any_columns: bool = False


_SPECS: dict[str, _Spec] = {
    "applications": _Spec(
        ("id", "organisation", "client_groups", "outcome_score"),
        ("title", "districts", "panel", "beneficiaries", "equality_groups", "continues_service"),
        ("profile_year_", "sc"),
        ("cost",),
    ),
    "variants": _Spec(
        ("application_id", "id"),
        ("outcome_score", "districts", "beneficiaries"),
        ("profile_year_", "sc"),
        ("cost",),
    ),
    "districts": _Spec(("id", "population"), ("need",)),
    "client_groups": _Spec(("id",), ("need",)),
    "budget": _Spec((), (), ("year_",), ("total",)),
    "weights": _Spec((), ("social_value_share", "value_form", "social_objective_weights")),
    "settings": _Spec((), ("name", "attribution", "outcome_max", "social_max", "social_objectives")),
    "rules": _Spec(("kind",), any_columns=True),
    "awards": _Spec(("application_id", "amount_pence"), any_columns=True),
}


@dataclass(frozen=True)
class Table:
    """One sheet or CSV file: where it came from, its columns and its non-blank rows."""

    name: str
    source: str
    columns: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, Raw]], ...]


def _empty(v: Raw) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


class _Row:
    """One row of a table, with parsers whose errors name file, row and column."""

    def __init__(self, table: Table, number: int, cells: dict[str, Raw]) -> None:
        self.table = table
        self.line = number
        self.cells = cells
        self.units: dict[str, str] = {}

    def where(self, column: str | None = None) -> str:
        place = f"{self.table.source} row {self.line}"
        return place if column is None else f"{place}, column {column}"

    def fail(self, column: str | None, reason: str) -> InvalidProblemError:
        return InvalidProblemError(self.where(column), reason)

    def has(self, column: str) -> bool:
        return not _empty(self.cells.get(column))

    def text(self, column: str, default: str = "") -> str:
        v = self.cells.get(column)
        if _empty(v):
            return default
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return restore(str(v).strip())

    def required_text(self, column: str) -> str:
        if not self.has(column):
            raise self.fail(column, "is empty but required")
        return self.text(column)

    def names(self, column: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.text(column).split(LIST_SEPARATOR) if p.strip())

    def decimal(self, column: str, *, pounds: bool = False) -> Decimal | None:
        v = self.cells.get(column)
        if _empty(v):
            return None
        if isinstance(v, bool):
            raise self.fail(column, f"{v!r} is not a number")
        text = repr(v) if isinstance(v, float) else str(v).strip()
        if pounds:
            text = text.removeprefix("£").replace(",", "")
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise self.fail(column, f"{text!r} is not a number") from None
        if not d.is_finite():
            raise self.fail(column, f"{text!r} is not a finite number")
        return d

    def number(self, column: str) -> float | None:
        d = self.decimal(column)
        return None if d is None else float(d)

    def integer(self, column: str) -> int | None:
        d = self.decimal(column)
        if d is None:
            return None
        if d != d.to_integral_value():
            raise self.fail(column, f"{self.cells[column]!r} is not a whole number")
        return int(d)

    def boolean(self, column: str) -> bool:
        v = self.cells.get(column)
        if _empty(v):
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
        d = self.decimal(column, pounds=pounds)
        if d is None:
            return None
        if pounds:
            p = d * 100
            if p != p.to_integral_value():
                raise self.fail(column, f"{self.text(column)!r} has fractions of a penny")
            return int(p)
        if d != d.to_integral_value():
            raise self.fail(column, f"{self.text(column)!r} is not a whole number of pence")
        return int(d)

    def money(self, base: str) -> int | None:
        """A NAME_pence or NAME_pounds cell, in pence (None if empty)."""
        column, pounds = self.money_column(base)
        return None if column is None else self.pence(column, pounds)

    def money_column(self, base: str) -> tuple[str | None, bool]:
        for unit in ("pence", "pounds"):
            if f"{base}_{unit}" in self.table.columns:
                return f"{base}_{unit}", unit == "pounds"
        return None, False

    def numbered(self, prefix: str, *, pounds: bool | None = None) -> tuple[Any, ...] | None:
        """The cells PREFIX1..PREFIXn in order (None if all empty; an error if only some are)."""
        cols = _numbered_columns(self.table.columns, prefix)
        if not cols or not any(self.has(c) for c in cols):
            return None
        missing = [c for c in cols if not self.has(c)]
        if missing:
            raise self.fail(missing[0], f"is empty but {cols[0]}..{cols[-1]} are given")
        if pounds is None:
            return tuple(self.number(c) for c in cols)
        return tuple(self.pence(c, pounds) for c in cols)


def _numbered_columns(columns: Iterable[str], prefix: str) -> list[str]:
    found = sorted(
        (int(m.group(1)), c) for c in columns if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", c))
    )
    return [c for _, c in found]


def _check_columns(table: Table) -> None:
    spec = _SPECS[table.name]
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
                f"{table.source}, column {column}",
                f"is not a known column of {table.name} (known: {known}; numbered: "
                f"{', '.join(p + 'N' for p in spec.numbered) or 'none'})",
            )
    for column in spec.required:
        if column not in table.columns:
            raise InvalidProblemError(f"{table.source}, column {column}", "is missing (required column)")
    for m in spec.money:
        both = [f"{m}_{u}" for u in ("pence", "pounds") if f"{m}_{u}" in table.columns]
        if not both:
            raise InvalidProblemError(
                f"{table.source}, column {m}_pence", f"is missing (give {m}_pence or {m}_pounds)"
            )
        if len(both) == 2:
            raise InvalidProblemError(
                f"{table.source}, column {m}_pounds", f"give {m}_pence or {m}_pounds, not both"
            )
    if table.name in ("budget", "weights", "settings") and len(table.rows) > 1:
        raise InvalidProblemError(f"{table.source} row {table.rows[1][0]}", "this table has exactly one row")


# ---------------------------------------------------------------------------- files


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a leading BOM is dropped); anything else is a clear InvalidProblemError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidProblemError(name, "is UTF-16 text; save it as UTF-8 (in Excel: 'CSV UTF-8')")
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidProblemError(
            name,
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); it may be Windows-1252 "
            "or Latin-1: save it as UTF-8 (in Excel: 'CSV UTF-8')",
        ) from None


def _table(name: str, source: str, header: Sequence[Raw], body: Iterable[tuple[int, Sequence[Raw]]]) -> Table:
    columns = [("" if h is None else str(h)).strip().lower() for h in header]
    rows: list[tuple[int, dict[str, Raw]]] = []
    for number, values in body:
        if all(_empty(v) for v in values):
            continue
        if len(values) > len(columns) and any(not _empty(v) for v in values[len(columns) :]):
            raise InvalidProblemError(f"{source} row {number}", "has more cells than the header row")
        cells = {c: v for c, v in zip(columns, values, strict=False) if c}
        for c, v in zip(columns, values, strict=False):
            if not c and not _empty(v):
                raise InvalidProblemError(
                    f"{source} row {number}", f"has a value {v!r} under an empty header"
                )
        rows.append((number, cells))
    named = tuple(c for c in columns if c)
    dup = [c for c in named if named.count(c) > 1]
    if dup:
        raise InvalidProblemError(f"{source}, column {dup[0]}", "appears twice in the header row")
    table = Table(name, source, named, tuple(rows))
    _check_columns(table)
    return table


def read_csv_table(path: Path, name: str | None = None) -> Table:
    """One CSV file as a table (name defaults to the file's stem)."""
    name = name or path.stem.lower()
    source = path.name
    text = decode(path.read_bytes(), source)
    if not text.strip():
        raise InvalidProblemError(source, "is empty (expected a header row and data rows)")
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InvalidProblemError(source, f"is not valid CSV: {exc}") from None
    return _table(name, source, records[0], ((i + 1, r) for i, r in enumerate(records) if i > 0))


def _check_table_name(name: str, source: str) -> None:
    if name not in TABLES:
        raise InvalidProblemError(source, f"is not a known table (known: {', '.join(TABLES)})")


def read_csv_files(files: Mapping[str, Path] | Iterable[Path], rules_json: Path | None = None) -> Problem:
    """A Problem from CSV files, given as {table name: path} or paths named after their table."""
    named = dict(files) if isinstance(files, Mapping) else {p.stem.lower(): p for p in files}
    tables = {}
    for name, path in named.items():
        _check_table_name(name, path.name)
        tables[name] = read_csv_table(path, name)
    extra_rules = _read_rules_json(rules_json) if rules_json is not None else None
    return problem_from_tables(tables, extra_rules)


def read_csv_folder(folder: Path) -> Problem:
    """A Problem from a folder holding applications.csv, districts.csv, ... (rules.json optional)."""
    files = {p.stem.lower(): p for p in sorted(folder.iterdir()) if p.suffix.lower() == ".csv"}
    unknown = [p for n, p in files.items() if n not in TABLES]
    if unknown:
        _check_table_name(unknown[0].stem.lower(), f"{folder.name}/{unknown[0].name}")
    rules_json = folder / "rules.json"
    if rules_json.exists() and "rules" in files:
        raise InvalidProblemError(f"{folder.name}/rules.json", "give rules.csv or rules.json, not both")
    return read_csv_files(files, rules_json if rules_json.exists() else None)


def _read_rules_json(path: Path) -> list[Any]:
    try:
        data = json.loads(decode(path.read_bytes(), path.name))
    except json.JSONDecodeError as exc:
        raise InvalidProblemError(path.name, f"is not valid JSON: {exc}") from None
    if isinstance(data, dict) and "rules" in data:
        data = data["rules"]
    if not isinstance(data, list):
        raise InvalidProblemError(path.name, "must hold a JSON list of rules (objects with a 'kind')")
    return data


def read_xlsx(path: Path) -> Problem:
    """A Problem from an XLSX workbook with one sheet per table."""
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise InvalidProblemError(path.name, f"is not a readable XLSX workbook ({exc})") from None
    tables = {}
    try:
        for sheet in book.worksheets:
            name = sheet.title.strip().lower()
            source = f"{path.name} sheet {sheet.title}"
            _check_table_name(name, source)
            rows = [tuple(_xlsx_cell(v) for v in r) for r in sheet.iter_rows(values_only=True)]
            while rows and all(_empty(v) for v in rows[0]):
                raise InvalidProblemError(source, "the first row must be the header row")
            if not rows:
                raise InvalidProblemError(source, "is empty (expected a header row and data rows)")
            tables[name] = _table(name, source, rows[0], ((i + 1, r) for i, r in enumerate(rows) if i > 0))
    finally:
        book.close()
    return problem_from_tables(tables)


def _xlsx_cell(v: object) -> Raw:
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def read_problem(path: str | Path) -> Problem:
    """A Problem from a .json file, a folder of CSV files, or an .xlsx workbook."""
    path = Path(path)
    if path.is_dir():
        return read_csv_folder(path)
    if not path.exists():
        raise InvalidProblemError(str(path), "does not exist")
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = decode(path.read_bytes(), path.name)
        if not text.strip():
            raise InvalidProblemError(path.name, "is empty")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidProblemError(path.name, f"is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidProblemError(path.name, "must hold a JSON object (a problem)")
        try:
            return Problem.from_dict(data)
        except InvalidProblemError as exc:
            raise InvalidProblemError(f"{path.name}: {exc.field}", exc.reason) from None
    if suffix == ".xlsx":
        return read_xlsx(path)
    if suffix == ".csv":
        raise InvalidProblemError(
            path.name, "a problem needs several CSV files: give the folder that holds them"
        )
    raise InvalidProblemError(path.name, "unknown format (expected .json, .xlsx or a folder of CSV files)")


# ---------------------------------------------------------------------------- tables -> Problem


def _rows(table: Table) -> list[_Row]:
    return [_Row(table, n, cells) for n, cells in table.rows]


def _application(row: _Row) -> dict[str, Any]:
    column, pounds = row.money_column("cost")
    assert column is not None
    cost = row.pence(column, pounds)
    if cost is None:
        raise row.fail(column, "is empty but required")
    app: dict[str, Any] = {
        "id": row.required_text("id"),
        "organisation": row.required_text("organisation"),
        "title": row.text("title"),
        "client_groups": row.names("client_groups"),
        "districts": row.names("districts"),
        "cost": cost,
        "panel": row.text("panel"),
        "equality_groups": row.names("equality_groups"),
        "continues_service": row.boolean("continues_service"),
    }
    if not app["client_groups"]:
        raise row.fail("client_groups", "is empty but required (';'-separated client group ids)")
    outcome = row.number("outcome_score")
    if outcome is None:
        raise row.fail("outcome_score", "is empty but required")
    app["outcome_score"] = outcome
    if (social := row.numbered("sc")) is not None:
        app["social_scores"] = social
    if (profile := row.numbered("profile_year_", pounds=pounds)) is not None:
        app["cost_profile"] = profile
    if (beneficiaries := row.integer("beneficiaries")) is not None:
        app["beneficiaries"] = beneficiaries
    return app


def _variant(row: _Row) -> dict[str, Any]:
    column, pounds = row.money_column("cost")
    assert column is not None
    cost = row.pence(column, pounds)
    if cost is None:
        raise row.fail(column, "is empty but required")
    var: dict[str, Any] = {"id": row.required_text("id"), "cost": cost}
    if (outcome := row.number("outcome_score")) is not None:
        var["outcome_score"] = outcome
    if (social := row.numbered("sc")) is not None:
        var["social_scores"] = social
    if (profile := row.numbered("profile_year_", pounds=pounds)) is not None:
        var["cost_profile"] = profile
    if row.has("districts"):
        var["districts"] = row.names("districts")
    if (beneficiaries := row.integer("beneficiaries")) is not None:
        var["beneficiaries"] = beneficiaries
    return var


def _rule(row: _Row) -> dict[str, Any]:
    rule: dict[str, Any] = {"kind": row.required_text("kind")}
    for column in row.table.columns:
        if column == "kind" or not row.has(column):
            continue
        if column.endswith("_pounds"):
            rule[column.removesuffix("_pounds")] = row.pence(column, True)
            continue
        raw = row.cells[column]
        value: Any = raw
        if isinstance(raw, str):
            text = restore(raw.strip())
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                value = text
            if isinstance(value, str) and column in _RULE_LIST_FIELDS:
                value = [p.strip() for p in value.split(LIST_SEPARATOR) if p.strip()]
        rule[column] = value
    return rule


_FIELD_COLUMNS: dict[str, Callable[[_Row], str]] = {
    "cost": lambda r: r.money_column("cost")[0] or "cost_pence",
    "cost_profile": lambda r: "profile_year_1..N",
    "social_scores": lambda r: "sc1..scN",
}


def _column_of(row: _Row, field: str) -> str | None:
    field = field.split(".")[0].split("[")[0]
    if not field:
        return None
    return _FIELD_COLUMNS[field](row) if field in _FIELD_COLUMNS else field


def _relocate(exc: InvalidProblemError, where: Mapping[str, list[_Row]]) -> InvalidProblemError:
    """Turn a model path like Problem.applications[3].cost into file, row and column."""
    m = re.match(r"^(?:Problem\.)?(\w+)\[(\d+)\](?: \([^)]*\))?\.?(.*)$", exc.field)
    if m and m.group(1) in where:
        rows = where[m.group(1)]
        i, rest = int(m.group(2)), m.group(3)
        if m.group(1) == "applications" and (v := re.match(r"^variants\[(\d+)\]\.?(.*)$", rest)):
            app_id = rows[i].text("id")
            var_rows = [r for r in where.get("variants", []) if r.text("application_id") == app_id]
            if int(v.group(1)) < len(var_rows):
                row = var_rows[int(v.group(1))]
                return row.fail(_column_of(row, v.group(2)), exc.reason)
        if i < len(rows):
            return rows[i].fail(_column_of(rows[i], rest), exc.reason)
    return exc


def problem_from_tables(tables: Mapping[str, Table], rules: list[Any] | None = None) -> Problem:
    """Build and validate a Problem from parsed tables (see `read_csv_files`, `read_xlsx`)."""
    for name in REQUIRED_TABLES:
        if name not in tables:
            raise InvalidProblemError(f"{name}.csv / sheet {name}", "is missing (required table)")
    rows = {name: _rows(t) for name, t in tables.items()}
    for name in ("applications", "districts", "client_groups"):
        if not rows[name]:
            raise InvalidProblemError(tables[name].source, "has a header but no data rows")
    districts = []
    for r in rows["districts"]:
        d: dict[str, Any] = {"id": r.required_text("id"), "population": r.integer("population")}
        if d["population"] is None:
            raise r.fail("population", "is empty but required")
        if (need := r.number("need")) is not None:
            d["need"] = need
        districts.append(_validated(District, d, r))
    groups = []
    for r in rows["client_groups"]:
        g: dict[str, Any] = {"id": r.required_text("id")}
        if (need := r.number("need")) is not None:
            g["need"] = need
        groups.append(_validated(ClientGroup, g, r))
    known_d = {d.id for d in districts}
    known_g = {g.id for g in groups}
    apps = []
    for r in rows["applications"]:
        app = _application(r)
        _known(r, "districts", app["districts"], known_d, "district")
        _known(r, "client_groups", app["client_groups"], known_g, "client group")
        app["variants"] = []
        apps.append(app)
    by_id = {a["id"]: a for a in apps}
    for r in rows.get("variants", []):
        parent = r.required_text("application_id")
        if parent not in by_id:
            raise r.fail("application_id", f"unknown application {parent!r}")
        var = _variant(r)
        _known(r, "districts", var.get("districts", ()), known_d, "district")
        by_id[parent]["variants"].append(var)
    budget_rows = rows["budget"]
    if not budget_rows:
        raise InvalidProblemError(tables["budget"].source, "has a header but no data row")
    b = budget_rows[0]
    column, pounds = b.money_column("total")
    assert column is not None
    total = b.pence(column, pounds)
    if total is None:
        raise b.fail(column, "is empty but required")
    budget: dict[str, Any] = {"total": total}
    if (years := b.numbered("year_", pounds=pounds)) is not None:
        budget["per_year"] = years
    data: dict[str, Any] = {
        "applications": apps,
        "districts": districts,
        "client_groups": groups,
        "budget": _validated(Budget, budget, b),
    }
    if rules is not None:
        data["rules"] = rules
    elif "rules" in rows:
        data["rules"] = [_rule(r) for r in rows["rules"]]
    if rows.get("weights"):
        w = rows["weights"][0]
        wd: dict[str, Any] = {}
        if (share := w.number("social_value_share")) is not None:
            wd["social_value_share"] = share
        if w.has("value_form"):
            wd["value_form"] = w.text("value_form")
        if w.has("social_objective_weights"):
            wd["social_objective_weights"] = tuple(
                _float(w, "social_objective_weights", p) for p in w.names("social_objective_weights")
            )
        data["weights"] = _validated(Weights, wd, w)
    if rows.get("settings"):
        s = rows["settings"][0]
        if s.has("name"):
            data["name"] = s.text("name")
        if s.has("attribution"):
            data["attribution"] = s.text("attribution")
        if s.has("social_objectives"):
            data["social_objectives"] = s.names("social_objectives")
        scale = {k: v for k in ("outcome_max", "social_max") if (v := s.number(k)) is not None}
        if scale:
            data["scale"] = scale
    try:
        return Problem.from_dict(data)
    except InvalidProblemError as exc:
        raise _relocate(exc, rows) from None


def _float(row: _Row, column: str, text: str) -> float:
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise row.fail(column, f"{text!r} is not a number") from None
    return float(d)


def _known(row: _Row, column: str, ids: Iterable[str], known: set[str], what: str) -> None:
    for i in ids:
        if i not in known:
            raise row.fail(column, f"unknown {what} {i!r} (known: {', '.join(sorted(known))})")


def _validated(model: Any, data: dict[str, Any], row: _Row) -> Any:
    try:
        return model.from_dict(data)
    except InvalidProblemError as exc:
        field = exc.field.split(".", 1)[1] if "." in exc.field else None
        raise row.fail(_column_of(row, field) if field else None, exc.reason) from None


# ---------------------------------------------------------------------------- pandas


def problem_from_dataframe(
    applications: pd.DataFrame,
    *,
    districts: Sequence[District],
    client_groups: Sequence[ClientGroup],
    budget: Budget,
    rules: Sequence[Rule] = (),
    weights: Weights | None = None,
    variants: pd.DataFrame | None = None,
    name: str = "round",
) -> Problem:
    """A Problem whose applications (and variants) come from DataFrames with the documented columns.

    Errors name the DataFrame and the row by its index label.
    """
    tables = {
        "applications": _frame_table("applications", applications),
        "districts": _objects_table(
            "districts", [{"id": d.id, "population": d.population, "need": d.need} for d in districts]
        ),
        "client_groups": _objects_table(
            "client_groups", [{"id": g.id, "need": g.need} for g in client_groups]
        ),
        "budget": _objects_table(
            "budget",
            [
                {
                    "total_pence": budget.total,
                    **{f"year_{i + 1}": y for i, y in enumerate(budget.per_year or ())},
                }
            ],
        ),
    }
    if variants is not None:
        tables["variants"] = _frame_table("variants", variants)
    problem = problem_from_tables(tables, rules=[])
    return problem.replace(rules=tuple(rules), weights=weights or Weights(), name=name)


def _frame_table(name: str, frame: pd.DataFrame) -> Table:
    import math

    header = [str(c) for c in frame.columns]
    body = []
    for index, record in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
        values: list[Raw] = []
        for v in record:
            item = v.item() if hasattr(v, "item") else v
            if item is None or (isinstance(item, float) and math.isnan(item)):
                values.append(None)
            elif isinstance(item, (str, int, float, bool)):
                values.append(item)
            else:
                values.append(str(item))
        body.append((index, values))
    table = _table(name, f"{name} DataFrame", header, [])
    rows = tuple(
        (n, dict(zip(table.columns, vals, strict=False)))
        for n, vals in body
        if not all(_empty(v) for v in vals)
    )
    return Table(name, f"{name} DataFrame (by index label)", table.columns, rows)


def _objects_table(name: str, records: list[dict[str, Any]]) -> Table:
    columns = tuple(dict.fromkeys(k for r in records for k in r))
    return Table(name, name, columns, tuple((i + 2, dict(r)) for i, r in enumerate(records)))
