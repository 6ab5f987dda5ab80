"""Read a Problem from JSON, a folder of CSV files, an XLSX workbook or a pandas DataFrame.

The tabular layout (one sheet or CSV file per table) is documented in ``docs/data.md`` and
``examples/README.md``. Money is exact: pence are whole numbers, pounds are parsed with
`decimal.Decimal` and a fraction of a penny is an error. Every error is an
`InvalidProblemError` naming the file, the row (as a spreadsheet shows it: the header is
row 1) and the column.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from allocate.domain import parts
from allocate.domain.errors import InvalidProblemError, Loc
from allocate.domain.model import Problem
from allocate.domain.rules import LIST_FIELDS, Rule
from allocate.io import cells, jsontext, numbers, panel_scores, publisher, workbook
from allocate.io import commitments as commitment_table
from allocate.io.cells import LIST_SEPARATOR, Raw, Row, Spec, Table, decode, empty, numbered_columns
from allocate.io.safe import restore

if TYPE_CHECKING:
    import pandas as pd

TABLES = (
    "applications", "variants", "districts", "client_groups", "budget", "rules", "weights", "settings", "publisher",
    "organisations", "panel_scores", "commitments",
)  # fmt: skip
"""The tables of a round; ``publisher`` is read by `allocate.io.publisher.read_publisher`."""
REQUIRED_TABLES = ("applications", "districts", "client_groups", "budget")

_SPECS: dict[str, Spec] = {
    "applications": Spec(
        ("id", "organisation", "client_groups", "outcome_score"),
        ("title", "districts", "panel", "beneficiaries", "equality_groups", "continues_service", "tags"),
        ("profile_year_", "sc"),
        ("cost",),
    ),
    "variants": Spec(
        ("application_id", "id"),
        ("outcome_score", "districts", "beneficiaries"),
        ("profile_year_", "sc"),
        ("cost",),
    ),
    "districts": Spec(("id", "population"), ("need",)),
    "organisations": Spec(("id",), ("tags",)),
    "client_groups": Spec(("id",), ("need",)),
    "budget": Spec((), (), ("year_",), ("total",), one_row=True),
    "weights": Spec((), ("social_value_share", "value_form", "social_objective_weights"), one_row=True),
    "settings": Spec(
        (), ("name", "attribution", "outcome_max", "social_max", "social_objectives"), one_row=True
    ),
    "rules": Spec(("kind",), any_columns=True),
    "publisher": publisher.SPEC,
    "panel_scores": panel_scores.SPEC,
    "commitments": commitment_table.SPEC,
}


# ---------------------------------------------------------------------------- files


def _table(name: str, source: str, header: Sequence[Raw], body: Iterable[tuple[Any, Sequence[Raw]]]) -> Table:
    return cells.table(name, source, header, body, _SPECS[name])


def read_csv_table(path: Path, name: str | None = None) -> Table:
    """One CSV file as a table of a problem (name defaults to the file's stem)."""
    name = name or path.stem.lower()
    return cells.read_csv_table(path, name, _SPECS[name])


def _check_table_name(name: str, source: str) -> None:
    if name not in TABLES:
        raise InvalidProblemError((source,), f"is not a known table (known: {', '.join(TABLES)})")


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
    if folders := [p for p in files.values() if p.is_dir()]:
        raise InvalidProblemError((f"{folder.name}/{folders[0].name}",), "is a folder, not a CSV file")
    unknown = [p for n, p in files.items() if n not in TABLES]
    if unknown:
        _check_table_name(unknown[0].stem.lower(), f"{folder.name}/{unknown[0].name}")
    rules_json = folder / "rules.json"
    if rules_json.exists() and "rules" in files:
        raise InvalidProblemError((f"{folder.name}/rules.json",), "give rules.csv or rules.json, not both")
    return read_csv_files(files, rules_json if rules_json.exists() else None)


def _read_rules_json(path: Path) -> list[Any]:
    data = jsontext.loads(decode(cells.read_bytes(path), path.name), path.name)
    if isinstance(data, dict) and "rules" in data:
        data = data["rules"]
    if not isinstance(data, list):
        raise InvalidProblemError((path.name,), "must hold a JSON list of rules (objects with a 'kind')")
    return data


def read_xlsx(path: Path) -> Problem:
    """A Problem from an XLSX workbook with one sheet per table."""
    tables = {}
    for title, rows in workbook.read_sheets(path):
        name = title.strip().lower()
        source = f"{path.name} sheet {title}"
        _check_table_name(name, source)
        while rows and all(empty(v) for v in rows[0]):
            raise InvalidProblemError((source,), "the first row must be the header row")
        if not rows:
            raise InvalidProblemError((source,), "is empty (expected a header row and data rows)")
        tables[name] = _table(name, source, rows[0], ((i + 1, r) for i, r in enumerate(rows) if i > 0))
    return problem_from_tables(tables)


def read_problem(path: str | Path) -> Problem:
    """A Problem from a .json file, a folder of CSV files, or an .xlsx workbook."""
    path = Path(path)
    if path.is_dir():
        return read_csv_folder(path)
    if not path.exists():
        raise InvalidProblemError((str(path),), "does not exist")
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = decode(cells.read_bytes(path), path.name)
        if not text.strip():
            raise InvalidProblemError((path.name,), "is empty")
        data = jsontext.loads(text, path.name)
        if not isinstance(data, dict):
            raise InvalidProblemError((path.name,), "must hold a JSON object (a problem)")
        data.pop(publisher.TABLE, None)  # the publisher's section: read_publisher
        try:
            return Problem.from_dict(data)
        except InvalidProblemError as exc:
            raise InvalidProblemError((path.name, *exc.loc), exc.reason) from None
    if suffix == ".xlsx":
        return read_xlsx(path)
    if suffix == ".csv":
        raise InvalidProblemError(
            (path.name,), "a problem needs several CSV files: give the folder that holds them"
        )
    raise InvalidProblemError((path.name,), "unknown format (expected .json, .xlsx or a folder of CSV files)")


# ---------------------------------------------------------------------------- tables -> Problem


def _application(row: Row) -> dict[str, Any]:
    column, pounds = row.required_money_column("cost")
    cost = row.pence(column, pounds)
    if cost is None:
        raise row.fail(column, "is empty but required")
    app: dict[str, Any] = {
        "id": row.required_text("id"),
        "organisation": row.required_text("organisation"),
        "title": row.free_text("title"),
        "client_groups": row.names("client_groups"),
        "districts": row.names("districts"),
        "cost": cost,
        "panel": row.free_text("panel"),
        "equality_groups": row.names("equality_groups"),
        "continues_service": row.boolean("continues_service"),
        "tags": row.names("tags"),
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


def _variant(row: Row) -> dict[str, Any]:
    column, pounds = row.required_money_column("cost")
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


def _rule(row: Row) -> dict[str, Any]:
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
                value = json.loads(text, parse_int=jsontext.integer)
            except (json.JSONDecodeError, RecursionError):
                value = text
            if isinstance(value, str) and column in LIST_FIELDS:
                value = [p.strip() for p in value.split(LIST_SEPARATOR) if p.strip()]
        rule[column] = value
    return rule


_NUMBERED_FIELDS = {"cost_profile": "profile_year_", "social_scores": "sc", "per_year": "year_"}
"""Fields held in numbered columns (field[i] is column PREFIX{i+1})."""
_ALL_NUMBERED = {"profile_year_": "profile_year_1..N", "sc": "sc1..scN", "year_": "year_1..N"}


def _column_of(row: Row, path: Loc) -> str | None:
    """The column of `row` holding the field at `path` in the row's model, e.g. ``("cost",)`` is
    ``cost_pounds`` and ``("social_scores", 2)`` is ``sc3`` (None for the row as a whole)."""
    if not path or not isinstance(path[0], str):
        return None
    field = path[0]
    if field in _NUMBERED_FIELDS:
        numbered = numbered_columns(row.table.columns, _NUMBERED_FIELDS[field])
        if len(path) > 1 and isinstance(path[1], int) and 0 <= path[1] < len(numbered):
            return numbered[path[1]]
        return _ALL_NUMBERED[_NUMBERED_FIELDS[field]]
    if field in row.table.columns:
        return field
    return row.money_column(field)[0] or field


_ONE_ROW_FIELDS = {"budget": "budget", "weights": "weights", "scale": "settings"}
"""Problem fields built from one row of a table (the table's name)."""
_SETTINGS = ("name", "attribution", "social_objectives")


def _row_of(loc: Loc, rows: Mapping[str, list[Row]]) -> tuple[Row, Loc] | None:
    """The row a Problem location lies in, and the location within that row's model."""
    match loc:
        case ("Problem", "applications", int(i), "variants", int(k), *rest):
            if not 0 <= i < len(rows["applications"]):
                return None
            app_id = rows["applications"][i].text("id")
            mine = [r for r in rows.get("variants", []) if r.text("application_id") == app_id]
            return (mine[k], tuple(rest)) if 0 <= k < len(mine) else None
        case ("Problem", str(name), int(i), *rest) if 0 <= i < len(rows.get(name, [])):
            return rows[name][i], tuple(rest)
        case ("Problem", str(name), *rest) if name in _ONE_ROW_FIELDS and rows.get(_ONE_ROW_FIELDS[name]):
            return rows[_ONE_ROW_FIELDS[name]][0], tuple(rest)
        case ("Problem", str(name), *rest) if name in _SETTINGS and rows.get("settings"):
            return rows["settings"][0], (name, *rest)
    return None


def _relocate(exc: InvalidProblemError, rows: Mapping[str, list[Row]]) -> InvalidProblemError:
    """An error located in the Problem built from `rows`, placed at its file, row and column."""
    found = _row_of(exc.loc, rows)
    if found is None:
        return exc
    row, path = found
    return row.fail(_column_of(row, path), exc.reason)


def problem_from_tables(tables: Mapping[str, Table], rules: list[Any] | None = None) -> Problem:
    """Build and validate a Problem from parsed tables (see `read_csv_files`, `read_xlsx`)."""
    for name in REQUIRED_TABLES:
        if name not in tables:
            raise InvalidProblemError((f"{name}.csv / sheet {name}",), "is missing (required table)")
    rows = {name: cells.rows(t) for name, t in tables.items()}
    for name in ("applications", "districts", "client_groups"):
        if not rows[name]:
            raise InvalidProblemError((tables[name].source,), "has a header but no data rows")
    districts = []
    for r in rows["districts"]:
        d: dict[str, Any] = {"id": r.required_text("id"), "population": r.integer("population")}
        if d["population"] is None:
            raise r.fail("population", "is empty but required")
        if (need := r.number("need")) is not None:
            d["need"] = need
        districts.append(_validated(parts.District, d, r))
    groups = []
    for r in rows["client_groups"]:
        g: dict[str, Any] = {"id": r.required_text("id")}
        if (need := r.number("need")) is not None:
            g["need"] = need
        groups.append(_validated(parts.ClientGroup, g, r))
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
    panel_scores.read(rows.get("panel_scores", []), by_id)
    budget_rows = rows["budget"]
    if not budget_rows:
        raise InvalidProblemError((tables["budget"].source,), "has a header but no data row")
    b = budget_rows[0]
    column, pounds = b.required_money_column("total")
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
        "budget": _validated(parts.Budget, budget, b),
    }
    if rows.get("organisations"):
        data["organisations"] = [
            {"id": r.required_text("id"), "tags": r.names("tags")} for r in rows["organisations"]
        ]
    if rows.get("commitments"):
        data["commitments"] = commitment_table.read(rows["commitments"])
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
        data["weights"] = _validated(parts.Weights, wd, w)
    if rows.get("settings"):
        s = rows["settings"][0]
        if s.given("name"):
            data["name"] = s.free_text("name")
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


def _float(row: Row, column: str, text: str) -> float:
    try:
        return float(numbers.parse(text))
    except numbers.NumberError as exc:
        raise row.fail(column, str(exc)) from None


def _known(row: Row, column: str, ids: Iterable[str], known: set[str], what: str) -> None:
    for i in ids:
        if i not in known:
            raise row.fail(column, f"unknown {what} {i!r} (known: {', '.join(sorted(known))})")


def _validated(model: Any, data: dict[str, Any], row: Row) -> Any:
    try:
        return model.from_dict(data)
    except InvalidProblemError as exc:
        raise row.fail(_column_of(row, exc.loc[1:]), exc.reason) from None


# ---------------------------------------------------------------------------- pandas


def problem_from_dataframe(
    applications: pd.DataFrame,
    *,
    districts: Sequence[parts.District],
    client_groups: Sequence[parts.ClientGroup],
    budget: parts.Budget,
    rules: Sequence[Rule] = (),
    weights: parts.Weights | None = None,
    variants: pd.DataFrame | None = None,
    name: str = "round",
    attribution: parts.Attribution = "population",
    scale: parts.ScoreScale | None = None,
    social_objectives: Sequence[str] = parts.SOCIAL_OBJECTIVES,
    organisations: Sequence[parts.Organisation] = (),
    commitments: Sequence[parts.Commitment] = (),
) -> Problem:
    """A Problem whose applications (and variants) come from DataFrames with the documented columns.

    Every Problem-level setting is a parameter (with the Problem's default). Errors name the
    DataFrame and the row by its index label.
    """
    scale = scale or parts.ScoreScale()
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
    settings = {
        "attribution": attribution,
        "outcome_max": scale.outcome_max,
        "social_max": scale.social_max,
        "social_objectives": LIST_SEPARATOR.join(social_objectives),
    }
    tables["settings"] = _objects_table("settings", [settings])
    problem = problem_from_tables(tables, rules=[])
    return problem.replace(
        rules=tuple(rules),
        weights=weights or parts.Weights(),
        name=name,
        organisations=tuple(organisations),
        commitments=tuple(commitments),
    )


def _frame_table(name: str, frame: pd.DataFrame) -> Table:
    import pandas

    header = [str(c) for c in frame.columns]
    body = []
    for index, record in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
        values: list[Raw] = []
        for v in record:
            item = v.item() if hasattr(v, "item") else v
            if item is None or (pandas.api.types.is_scalar(item) and pandas.isna(item)):
                values.append(None)  # NaN, pd.NA, NaT: a missing value, never the text "<NA>"
            elif isinstance(item, (str, int, float, bool)):
                values.append(item)
            else:
                values.append(str(item))
        body.append((index, values))
    table = _table(name, f"{name} DataFrame", header, [])
    rows = tuple(
        (n, dict(zip(table.columns, vals, strict=False)))
        for n, vals in body
        if not all(empty(v) for v in vals)
    )
    return Table(name, f"{name} DataFrame (by index label)", table.columns, rows)


def _objects_table(name: str, records: list[dict[str, Any]]) -> Table:
    columns = tuple(dict.fromkeys(k for r in records for k in r))
    return Table(name, name, columns, tuple((i + 2, dict(r)) for i, r in enumerate(records)))
