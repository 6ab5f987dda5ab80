"""Write problems and allocations as CSV, XLSX or JSON; read award schedules back.

Every CSV and XLSX cell goes through `allocate.io.safe.neutralise` (spreadsheet formula
injection), in `write_csv` and `write_xlsx`, the only two places that write cells.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from allocate.domain.errors import InvalidProblemError
from allocate.domain.model import Problem
from allocate.domain.schema import unstorable
from allocate.engine.result import Allocation, Award
from allocate.io import atomic, cells, jsontext, panel_scores, workbook
from allocate.io import commitments as commitment_table
from allocate.io.cells import LIST_SEPARATOR, Raw, Spec, Table, decode
from allocate.io.safe import Cell, neutralise, neutralise_row

Rows = Sequence[Sequence[Cell]]

_AWARDS = Spec(("application_id", "amount_pence"), any_columns=True)
"""The columns an award schedule read back must have (see `schedule`)."""


def csv_bytes(header: Sequence[str], rows: Rows) -> bytes:
    """A UTF-8 CSV file's content (no BOM), every cell neutralised."""
    text = io.StringIO(newline="")
    out = csv.writer(text)
    out.writerow(neutralise_row(header))
    for row in rows:
        out.writerow(neutralise_row(row))
    return text.getvalue().encode("utf-8")


def write_csv(path: Path, header: Sequence[str], rows: Rows) -> None:
    """A UTF-8 CSV file (no BOM), every cell neutralised, written atomically."""
    atomic.write_bytes(path, csv_bytes(header, rows))


def write_xlsx(path: Path, sheets: Mapping[str, tuple[Sequence[str], Rows]]) -> None:
    """An XLSX workbook, one sheet per entry, every cell neutralised and text stored as text.

    Text an XLSX cell cannot hold faithfully is refused before anything is written.
    """
    from openpyxl import Workbook

    for name, (header, rows) in sheets.items():
        for r, row in enumerate((header, *rows)):
            for column, value in zip(header, row, strict=False):
                if isinstance(value, str) and (reason := xlsx_refusal(value)):
                    where = cells.place(f"{Path(path).name} sheet {name}", r + 1, column)
                    raise InvalidProblemError((where,), reason)
    book = Workbook()
    book.remove(book.active)
    for name, (header, rows) in sheets.items():
        sheet = book.create_sheet(name)
        for row in (header, *rows):
            sheet.append(neutralise_row(row))
        for line in sheet.iter_rows():
            for cell in line:
                # openpyxl would store text starting with "=" as a formula; neutralised text never
                # does, but force the type so no text cell can become one.
                if isinstance(cell.value, str):
                    cell.data_type = "s"
    with atomic.atomic_path(path) as tmp:
        book.save(tmp)


XLSX_MAX_TEXT = 32_767
"""The most characters an XLSX cell holds (Excel's limit; openpyxl cuts longer text silently)."""


def xlsx_refusal(text: str) -> str | None:
    """Why `text` cannot be stored in an XLSX cell as it is (None if it can)."""
    if len(text) + (neutralise(text) != text) > XLSX_MAX_TEXT:
        return (
            f"is {len(text):,} characters long; an XLSX cell holds at most {XLSX_MAX_TEXT:,} "
            "(write CSV or JSON instead)"
        )
    if (bad := unstorable(text)) is not None:
        return f"holds the character U+{ord(bad):04X}, which an XLSX file cannot store"
    return None


def pounds_text(pence: int) -> str:
    """Exact pounds, two decimals (e.g. 1234.50)."""
    return str((Decimal(pence) / 100).quantize(Decimal("0.01")))


def _pounds_cell(pence: int, xlsx: bool) -> Cell:
    if not xlsx:
        return pounds_text(pence)
    return pence // 100 if pence % 100 == 0 else float(Decimal(pence) / 100)


def _join(items: Sequence[str]) -> str:
    return LIST_SEPARATOR.join(items)


def _num(v: float) -> Cell:
    return int(v) if float(v).is_integer() and abs(v) < 2**53 else v


# ---------------------------------------------------------------------------- problems


def problem_tables(
    problem: Problem, *, money: str = "pence", xlsx: bool = False
) -> dict[str, tuple[list[str], list[list[Cell]]]]:
    """The problem as tables in the documented layout (money in pence or pounds)."""
    if money not in ("pence", "pounds"):
        raise ValueError("money must be 'pence' or 'pounds'")

    def m(p: int) -> Cell:
        return p if money == "pence" else _pounds_cell(p, xlsx)

    years = problem.budget.years
    n_sc = len(problem.social_objectives)
    profiled = any(a.cost_profile is not None for a in problem.applications)
    prof_cols = [f"profile_year_{y + 1}" for y in range(years)] if profiled else []
    sc_cols = [f"sc{k + 1}" for k in range(n_sc)]
    app_header = [
        "id",
        "organisation",
        "title",
        "client_groups",
        "districts",
        f"cost_{money}",
        *prof_cols,
        "outcome_score",
        *sc_cols,
        "panel",
        "beneficiaries",
        "equality_groups",
        "continues_service",
        "tags",
    ]
    apps: list[list[Cell]] = []
    variants: list[list[Cell]] = []
    for a in problem.applications:
        profile = [m(p) for p in a.cost_profile] if a.cost_profile else [None] * len(prof_cols)
        apps.append(
            [
                a.id,
                a.organisation,
                a.title,
                _join(a.client_groups),
                _join(a.districts),
                m(a.cost),
                *profile,
                _num(a.outcome_score),
                *(_num(s) for s in a.social_scores),
                a.panel,
                a.beneficiaries,
                _join(a.equality_groups),
                "true" if a.continues_service else "false",
                _join(a.tags),
            ]
        )
        for v in a.variants:
            variants.append(
                [
                    a.id,
                    v.id,
                    m(v.cost),
                    *([m(p) for p in v.cost_profile] if v.cost_profile else [None] * years),
                    None if v.outcome_score is None else _num(v.outcome_score),
                    *([_num(s) for s in v.social_scores] if v.social_scores else [None] * n_sc),
                    None if v.districts is None else _join(v.districts),
                    v.beneficiaries,
                ]
            )
    var_header = [
        "application_id",
        "id",
        f"cost_{money}",
        *[f"profile_year_{y + 1}" for y in range(years)],
        "outcome_score",
        *sc_cols,
        "districts",
        "beneficiaries",
    ]
    b = problem.budget
    budget_header = [f"total_{money}", *([f"year_{y + 1}" for y in range(years)] if b.per_year else [])]
    tables: dict[str, tuple[list[str], list[list[Cell]]]] = {
        "applications": (app_header, apps),
        "districts": (
            ["id", "population", "need"],
            [[d.id, d.population, _num(d.need)] for d in problem.districts],
        ),
        "client_groups": (["id", "need"], [[g.id, _num(g.need)] for g in problem.client_groups]),
        "budget": (budget_header, [[m(b.total), *(m(y) for y in b.per_year or ())]]),
    }
    if variants:
        tables["variants"] = (var_header, variants)
    if problem.organisations:
        tables["organisations"] = (["id", "tags"], [[o.id, _join(o.tags)] for o in problem.organisations])
    if (extra := panel_scores.table(problem)) is not None:
        tables["panel_scores"] = extra
    if (committed := commitment_table.table(problem, money, m)) is not None:
        tables["commitments"] = committed
    if problem.rules:
        tables["rules"] = _rules_table(problem)
    w = problem.weights
    tables["weights"] = (
        ["social_value_share", "value_form", "social_objective_weights"],
        [
            [
                _num(w.social_value_share),
                w.value_form,
                _join([repr(x) for x in w.social_objective_weights or ()]),
            ]
        ],
    )
    tables["settings"] = (
        ["name", "attribution", "outcome_max", "social_max", "social_objectives"],
        [
            [
                problem.name,
                problem.attribution,
                _num(problem.scale.outcome_max),
                _num(problem.scale.social_max),
                _join(problem.social_objectives),
            ]
        ],
    )
    return tables


def _rules_table(problem: Problem) -> tuple[list[str], list[list[Cell]]]:
    dumped = [r.model_dump(mode="json", exclude_defaults=False) for r in problem.rules]
    columns = ["kind", *dict.fromkeys(k for d in dumped for k in d if k != "kind")]
    rows: list[list[Cell]] = []
    for d in dumped:
        row: list[Cell] = []
        for c in columns:
            v = d.get(c)
            if v is None:
                row.append(None)
            elif isinstance(v, str):
                # text that would parse as JSON (e.g. "5", "true") is written quoted
                try:
                    json.loads(v)
                    row.append(json.dumps(v))
                except json.JSONDecodeError:
                    row.append(v)
            elif isinstance(v, (list, dict, bool)):
                row.append(json.dumps(v))
            else:
                row.append(v)
        rows.append(row)
    return columns, rows


def write_problem(problem: Problem, path: str | Path, *, money: str = "pence") -> None:
    """Write a problem as .json, .xlsx, or (any other path) a folder of CSV files."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        atomic.write_text(path, json.dumps(problem.model_dump(mode="json"), indent=2))
    elif suffix == ".xlsx":
        write_xlsx(path, problem_tables(problem, money=money, xlsx=True))
    else:
        # Every table is written, empty ones too, so no table of an earlier round is left
        # behind in the folder; all files are replaced together or not at all.
        tables: dict[str, tuple[list[str], list[list[Cell]]]] = {
            "variants": (["application_id", "id", f"cost_{money}"], []),
            "rules": (["kind"], []),
        }
        tables.update(problem_tables(problem, money=money))
        contents = {path / f"{name}.csv": csv_bytes(*table) for name, table in tables.items()}
        path.mkdir(parents=True, exist_ok=True)
        atomic.replace_all(contents, _write_bytes)


def _write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


# ---------------------------------------------------------------------------- allocations


def schedule(problem: Problem, allocation: Allocation) -> tuple[list[str], list[list[Cell]]]:
    """The award schedule: one row per award, money exact in pence (and pounds for reading)."""
    years = problem.budget.years
    header = [
        "application_id",
        "variant_id",
        "organisation",
        "title",
        "client_groups",
        "districts",
        "amount_pence",
        "amount_pounds",
        *[f"profile_year_{y + 1}_pence" for y in range(years)],
        "value",
        "value_outcome",
        "value_social",
    ]
    rows: list[list[Cell]] = []
    for aw in allocation.awards:
        app = problem.application(aw.application)
        var = next((v for v in app.variants if v.id == aw.variant), None)
        districts = var.districts if var is not None and var.districts is not None else app.districts
        rows.append(
            [
                aw.application,
                aw.variant or "",
                aw.organisation,
                app.title,
                _join(app.client_groups),
                _join(districts) or "county-wide",
                aw.amount,
                pounds_text(aw.amount),
                *aw.profile,
                aw.value,
                aw.value_outcome,
                aw.value_social,
            ]
        )
    return header, rows


def write_allocation(problem: Problem, allocation: Allocation, path: str | Path) -> None:
    """Write an allocation by extension: .json (complete), .csv or .xlsx (award schedule)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        atomic.write_text(path, allocation.to_json())
    elif suffix == ".csv":
        write_csv(path, *schedule(problem, allocation))
    elif suffix == ".xlsx":
        report: tuple[list[str], list[list[Cell]]] = (
            ["rule", "sense", "achieved", "limit", "slack", "binding", "ok", "unit"],
            [
                [r.label, r.sense, r.achieved, r.limit, r.slack, r.binding, r.ok, r.unit]
                for r in allocation.rules_report
            ],
        )
        about: tuple[list[str], list[list[Cell]]] = (
            [
                "status",
                "message",
                "total_pence",
                "value",
                "value_outcome",
                "value_social",
                "gap",
                "backend",
                "verified",
                "fingerprint",
            ],
            [
                [
                    allocation.status,
                    allocation.message,
                    allocation.total,
                    allocation.value,
                    allocation.value_outcome,
                    allocation.value_social,
                    allocation.gap,
                    allocation.solver.backend,
                    allocation.verified,
                    allocation.fingerprint,
                ]
            ],
        )
        write_xlsx(
            path, {"awards": schedule(problem, allocation), "rules_report": report, "allocation": about}
        )
    else:
        raise InvalidProblemError((str(path),), "unknown output format (expected .json, .csv or .xlsx)")


def read_allocation(path: str | Path) -> Allocation:
    """A complete Allocation from the JSON `write_allocation` wrote."""
    path = Path(path)
    data = jsontext.loads(decode(cells.read_bytes(path), path.name), path.name)
    if not isinstance(data, dict):
        raise InvalidProblemError((path.name,), "must hold a JSON object (an allocation)")
    try:
        return Allocation.from_dict(data)
    except InvalidProblemError as exc:
        raise InvalidProblemError((path.name, *exc.loc), exc.reason) from None


def read_award_schedule(path: str | Path) -> tuple[Award, ...]:
    """The awards of a schedule written as .csv or .xlsx (sheet ``awards``)."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        sheets = dict(workbook.read_sheets(path))
        values = sheets.get("awards")
        if not values:
            raise InvalidProblemError((path.name,), "has no sheet 'awards' with a header row")
        header: list[Raw] = list(values[0])
        body = [(i + 1, list(r)) for i, r in enumerate(values) if i > 0]
        table = _schedule_table(f"{path.name} sheet awards", header, body)
    else:
        table = cells.read_csv_table(path, "awards", _AWARDS)
    years = sorted(c for c in table.columns if c.startswith("profile_year_"))
    awards = []
    for row in cells.rows(table):
        profile = tuple(row.integer(c) or 0 for c in sorted(years, key=lambda c: int(c.split("_")[2])))
        awards.append(
            Award(
                application=row.required_text("application_id"),
                variant=row.text("variant_id") or None,
                organisation=row.text("organisation"),
                amount=row.integer("amount_pence") or 0,
                profile=profile,
                value=row.number("value") or 0.0,
                value_outcome=row.number("value_outcome") or 0.0,
                value_social=row.number("value_social") or 0.0,
            )
        )
    return tuple(awards)


def _schedule_table(source: str, header: list[Raw], body: list[tuple[int, list[Any]]]) -> Table:
    return cells.table(
        "awards",
        source,
        [*header],
        [
            (n, [v if isinstance(v, (str, int, float, bool)) or v is None else str(v) for v in r])
            for n, r in body
        ],
        _AWARDS,
    )
