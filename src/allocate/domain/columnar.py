"""A Problem from columns (`Problem.from_columns`): arrays, a DataFrame or an Arrow table.

The same checks as ``Problem(...)``, in the same order, with the same errors, made on whole
columns: screens (`allocate.domain.screen`) find the rows that may break a rule, and the first of
them is checked object by object (`Application.model_validate`, `check_application`), whose
error is raised; a flagged row that passes was a false alarm, and the next is checked. Checks
across rows (unique ids, a variant's application) are made on arrays. The Problem keeps the
columns (`allocate.domain.columns`) and makes its Application objects when they are first read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import create_model

from allocate.domain import screen
from allocate.domain.columns import Columns, Ragged, Unbuilt, VariantColumns, frozen
from allocate.domain.errors import InvalidProblemError, Loc
from allocate.domain.frames import Column, Frame, missing, read_frame
from allocate.domain.model import Problem, RoundFacts, check_application, check_round
from allocate.domain.parts import Application, Variant
from allocate.domain.schema import Frozen

APPLICATION_COLUMNS = tuple(f for f in Application.model_fields if f != "variants")
"""The columns of `applications`: every Application field but variants (their own table)."""
VARIANT_COLUMNS = ("application_id", *Variant.model_fields)
"""The columns of `variants`: the application each belongs to, then every Variant field."""
REQUIRED = {
    "applications": ("id", "organisation", "client_groups", "cost", "outcome_score"),
    "variants": ("application_id", "id", "cost"),
}
_TABLE_FIELDS = ("districts", "client_groups")
"""Problem fields that may also be given as a table (one row per item)."""

_Settings: type[Frozen] = create_model(  # type: ignore[call-overload]
    "Problem",
    __base__=Frozen,
    **{k: (f.annotation, f) for k, f in Problem.model_fields.items() if k != "applications"},
)
"""Every Problem field but the applications, validated as Problem validates them."""


def problem_from_columns(applications: Any, variants: Any, fields: dict[str, Any]) -> Problem:
    """See `Problem.from_columns`."""
    given = {k: _records(v, k) if k in _TABLE_FIELDS and _is_table(v) else v for k, v in fields.items()}
    settings: Frozen | None = None
    late: InvalidProblemError | None = None
    try:
        settings = _Settings.model_validate(given)
    except InvalidProblemError as exc:
        if exc.loc[1:2] == ("name",):  # Problem validates its name before its applications
            raise
        late = exc
    frame = read_frame(applications, "applications")
    vframe = read_frame(variants, "variants") if variants is not None else None
    if vframe is not None and vframe.n == 0 and not vframe.columns:
        vframe = None  # an empty table: no variants
    for f, known in ((frame, APPLICATION_COLUMNS), (vframe, VARIANT_COLUMNS)):
        if f is not None:
            _known_columns(f, known)
    if frame.n == 0:
        raise InvalidProblemError(("Problem", "applications"), "has no rows (a round needs an application)")
    rows = _Rows(frame, vframe)
    screened = _screen(rows)
    rows.refuse_orphans()
    if late is not None:
        raise late
    assert settings is not None
    columns = _columns(screened, settings)
    values: dict[str, Any] = {name: getattr(settings, name) for name in type(settings).model_fields}
    values["applications"] = Unbuilt(columns)  # made into a tuple of Applications when first read
    problem = Problem.model_construct(**values)
    check_round(problem, columns.ids, lambda facts: _check_against(facts, screened, columns))
    return problem


# ---------------------------------------------------------------------------- tables


def _is_table(value: Any) -> bool:
    return hasattr(value, "column_names") or (hasattr(value, "columns") and hasattr(value, "iloc"))


def _records(table: Any, name: str) -> list[dict[str, Any]]:
    """The rows of a small table (districts, client groups) as dicts, missing values left out."""
    frame = read_frame(table, name)
    out: list[dict[str, Any]] = [{} for _ in range(frame.n)]
    for k, column in frame.columns.items():
        for row, v in zip(out, column.tolist() if isinstance(column, np.ndarray) else column, strict=True):
            if not missing(v):
                row[k] = v
    return out


def _known_columns(frame: Frame, known: tuple[str, ...]) -> None:
    for k in frame.columns:
        if k not in known:
            hint = " (variants are their own table: variants=...)" if k == "variants" else ""
            raise InvalidProblemError(
                (frame.name, k), f"is not a column of {frame.name} (known: {', '.join(known)}){hint}"
            )
    for k in REQUIRED[frame.name]:
        if k not in frame.columns:
            raise InvalidProblemError((frame.name, k), "is missing (a required column)")


class _Rows:
    """The applications and variants tables, each variant tied to its application's row."""

    def __init__(self, frame: Frame, vframe: Frame | None) -> None:
        self.frame = frame
        parents = np.zeros(0, dtype=np.int64)
        self.orphans: list[tuple[int, Any]] = []
        """Variants of no application (row, application_id): refused after the applications' own
        checks, so that an application's bad id is named rather than its variants' reference."""
        if vframe is not None:
            ids = frame.columns["id"]
            texts = [] if isinstance(ids, np.ndarray) else ids
            if not {str}.issuperset(map(type, texts)):
                texts = [a if isinstance(a, str) else None for a in texts]
            first = dict(zip(reversed(texts), range(len(texts) - 1, -1, -1), strict=True))
            parent_ids = vframe.columns["application_id"]
            try:
                parents = np.fromiter(map(first.__getitem__, parent_ids), dtype=np.int64, count=vframe.n)
            except (KeyError, TypeError):
                self.orphans = [
                    (r, a) for r, a in enumerate(parent_ids) if not isinstance(a, str) or a not in first
                ]
                vframe, parents = None, parents[:0]
        self.vframe = vframe
        order = np.argsort(parents, kind="stable")
        self.parents = parents[order]
        """The application of each variant, variants grouped by application (table order within)."""
        self.order = order
        """Variant k (grouped) is row order[k] of the variants table."""
        counts = np.bincount(self.parents, minlength=frame.n)
        self.ranges = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def refuse_orphans(self) -> None:
        for r, a in self.orphans[:1]:
            why = (
                f"unknown application {a!r}"
                if isinstance(a, str)
                else f"must be an application id, not {a!r}"
            )
            raise InvalidProblemError(("variants", r, "application_id"), why)

    def cell(self, frame: Frame, column: str, i: int) -> Any:
        col = frame.columns[column]
        if isinstance(col, np.ndarray):
            return tuple(col[i].tolist()) if col.ndim == 2 else col[i].item()
        return col[i]

    def record(self, frame: Frame, i: int, skip: str = "") -> dict[str, Any]:
        """Row i as the dict the object-by-object path would be given (missing optional values
        left out, so defaults apply; missing required ones kept, so the error names them)."""
        out = {}
        for k in frame.columns:
            if k == skip:
                continue
            v = self.cell(frame, k, i)
            if not missing(v) or k in REQUIRED[frame.name]:
                out[k] = v
        return out

    def application(self, i: int) -> Application:
        """Application i validated object by object; its error (if any) located in the Problem."""
        data = self.record(self.frame, i)
        if self.vframe is not None:
            rows = self.order[self.ranges[i] : self.ranges[i + 1]].tolist()
            data["variants"] = [self.record(self.vframe, r, skip="application_id") for r in rows]
        try:
            return Application.model_validate(data)
        except InvalidProblemError as exc:
            loc: Loc = ("Problem", "applications", i, *exc.loc[1:])
            raise InvalidProblemError(loc, f"{self._reason(exc, i)}{self.naming(i)}") from None

    def naming(self, i: int) -> str:
        app_id = self.cell(self.frame, "id", i)
        named = f"application {app_id!r}" if isinstance(app_id, str) else f"row {i}"
        return f" ({named}{self.frame.label(i)})"

    def _reason(self, exc: InvalidProblemError, i: int) -> str:
        """The reason, said in terms of columns where that is clearer: a required value missing
        (None, NaN, NA), or whole numbers in a column of floats (pandas makes a column with gaps
        float)."""
        path = exc.loc[1:]
        table, row = self.frame, i
        if path[:1] == ("variants",) and len(path) > 2 and self.vframe is not None:
            table, row, path = self.vframe, int(self.order[self.ranges[i] + int(path[1])]), path[2:]
        column = path[0] if path and isinstance(path[0], str) and path[0] in table.columns else None
        if column is None:
            return exc.reason
        if len(path) == 1 and column in REQUIRED[table.name] and self.cell(table, column, row) is None:
            return "is missing, but required"
        col = table.columns[column]
        if (
            column in ("cost", "cost_profile", "beneficiaries")
            and isinstance(col, np.ndarray)
            and col.dtype.kind == "f"
        ):
            return (
                f"{exc.reason}; the column holds floats: give whole numbers an integer type (pandas: 'Int64')"
            )
        return exc.reason


# ---------------------------------------------------------------------------- screens


@dataclass
class _Screened:
    """The screened values of every column, and the rows checked object by object."""

    rows: _Rows
    apps: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, Any] = field(default_factory=dict)
    panel_scores: dict[int, dict[str, float]] = field(default_factory=dict)


def _scored(frame: Frame) -> np.ndarray:
    """Rows with scores from other panels: a mapping each, checked object by object (rare)."""
    scores = frame.columns.get("panel_scores")
    if scores is None:
        return np.zeros(frame.n, dtype=bool)
    return np.fromiter((not (v is None or v == {}) for v in scores), dtype=bool, count=frame.n)


def _screen(rows: _Rows) -> _Screened:
    """Screen every column; check the flagged applications object by object, in order."""
    frame, vframe = rows.frame, rows.vframe
    apps, bad = screen.applications(frame)
    screened = _Screened(rows, apps)
    if vframe is not None:
        grouped = _grouped(vframe, rows.order)
        screened.variants, vbad = screen.variants(grouped, rows.parents, apps["id"])
        bad |= np.bincount(rows.parents[vbad], minlength=frame.n) > 0
        rows.vframe = grouped
        rows.order = np.arange(grouped.n)
    alarms = []
    for i in np.flatnonzero(bad | _scored(frame)).tolist():
        app = rows.application(i)  # raises the first error, as Problem(...) would
        if app.panel_scores:
            screened.panel_scores[i] = dict(app.panel_scores)
        if bad[i]:
            alarms.append((i, app))
    if alarms:  # valid rows the screens could not clear: take their values as validated
        _patch(rows, alarms)
        return _Screened(rows, *_rescreened(rows), panel_scores=screened.panel_scores)
    return screened


def _some(column: Column, rows: list[int]) -> Column:
    return column[rows] if isinstance(column, np.ndarray) else [column[k] for k in rows]


def _grouped(vframe: Frame, order: np.ndarray) -> Frame:
    """The variants table in application order (a copy, unless already in that order)."""
    if np.array_equal(order, np.arange(vframe.n)):
        return vframe
    columns = {k: _some(c, order.tolist()) for k, c in vframe.columns.items()}
    return Frame(
        vframe.name, columns, vframe.n, None if vframe.labels is None else [vframe.labels[k] for k in order]
    )


def _patch(rows: _Rows, alarms: list[tuple[int, Application]]) -> None:
    """Write the validated values of valid rows the screens flagged over what was given."""
    frame = rows.frame
    frame.columns.update({k: _as_list(c) for k, c in frame.columns.items()})
    for i, app in alarms:
        for k in frame.columns:
            frame.columns[k][i] = getattr(app, k)
    if rows.vframe is not None:
        vframe = rows.vframe
        vframe.columns.update({k: _as_list(c) for k, c in vframe.columns.items()})
        for i, app in alarms:
            for r, var in zip(range(int(rows.ranges[i]), int(rows.ranges[i + 1])), app.variants, strict=True):
                for name in vframe.columns:
                    if name != "application_id":
                        vframe.columns[name][r] = getattr(var, name)


def _as_list(column: Column) -> list[Any]:
    if isinstance(column, np.ndarray):
        return [tuple(r) for r in column.tolist()] if column.ndim == 2 else column.tolist()
    return list(column)


def _rescreened(rows: _Rows) -> tuple[dict[str, Any], dict[str, Any]]:
    apps, _ = screen.applications(rows.frame)
    variants: dict[str, Any] = {}
    if rows.vframe is not None:
        variants, _ = screen.variants(rows.vframe, rows.parents, apps["id"])
    return apps, variants


# ---------------------------------------------------------------------------- columns


def _codes(lists: screen.Lists, known: dict[str, int]) -> Ragged:
    """Lists of names as positions in the problem's list (-1: unknown)."""
    position = np.array([known.get(d, -1) for d in lists.distinct], dtype=np.int64)
    return Ragged(lists.ptr, position[lists.codes] if len(lists.codes) else lists.codes.copy())


def _columns(s: _Screened, settings: Any) -> Columns:
    a = s.apps
    d_pos = {d.id: i for i, d in enumerate(settings.districts)}
    g_pos = {g.id: i for i, g in enumerate(settings.client_groups)}
    years = settings.budget.years
    width = len(settings.social_objectives)
    benefit, has_benefit, _ = a["beneficiaries"]
    return Columns(
        ids=list(a["id"]),
        organisation=list(a["organisation"]),
        title=list(a["title"]),
        client_groups=_codes(a["client_groups"], g_pos),
        group_names=list(a["client_groups"].rows),
        districts=_codes(a["districts"], d_pos),
        district_names=list(a["districts"].rows),
        cost=frozen(a["cost"]),
        profile=frozen(a["cost_profile"].table(years)),
        has_profile=frozen(a["cost_profile"].given),
        outcome=frozen(a["outcome_score"]),
        social=frozen(a["social_scores"].table(width)),
        panel=list(a["panel"]),
        beneficiaries=frozen(np.where(has_benefit, benefit, 0)),
        has_beneficiaries=frozen(has_benefit),
        equality_groups=list(a["equality_groups"].rows),
        continues_service=frozen(a["continues_service"]),
        tags=list(a["tags"].rows),
        panel_scores=dict(s.panel_scores),
        variants=_variant_columns(s, d_pos, years, width)
        if s.variants
        else VariantColumns.empty(years, width),
    )


def _variant_columns(s: _Screened, d_pos: dict[str, int], years: int, width: int) -> VariantColumns:
    v = s.variants
    outcome, has_outcome, _ = v["outcome_score"]
    benefit, has_benefit, _ = v["beneficiaries"]
    given = v["districts"].given
    return VariantColumns(
        parent=frozen(s.rows.parents),
        ids=list(v["id"]),
        cost=frozen(v["cost"]),
        profile=frozen(v["cost_profile"].table(years)),
        has_profile=frozen(v["cost_profile"].given),
        outcome=frozen(np.where(has_outcome, outcome, 0.0)),
        has_outcome=frozen(has_outcome),
        social=frozen(v["social_scores"].table(width)),
        has_social=frozen(v["social_scores"].given),
        beneficiaries=frozen(np.where(has_benefit, benefit, 0)),
        has_beneficiaries=frozen(has_benefit),
        districts=_codes(v["districts"], d_pos),
        has_districts=frozen(given),
        district_names=[r if g else None for r, g in zip(v["districts"].rows, given.tolist(), strict=True)],
    )


# ---------------------------------------------------------------------------- the round


def _check_against(facts: RoundFacts, s: _Screened, columns: Columns) -> None:
    """Each application against the round (`check_application`), on columns: known districts
    and groups, scores within the scale, one amount per budget year, beneficiaries if needed."""
    a = s.apps
    n = len(columns)
    flag = np.zeros(n, dtype=bool)
    for ragged in (columns.districts, columns.client_groups):
        flag |= np.bincount(ragged.row_of[ragged.idx < 0], minlength=n) > 0
    flag |= columns.outcome > facts.scale.outcome_max
    flag |= _off_scale(a["social_scores"], facts)
    profile = a["cost_profile"]
    flag |= profile.given & (profile.lengths != facts.years)
    flag[list(s.panel_scores)] = True
    if facts.needs_beneficiaries:
        flag |= ~columns.has_beneficiaries
    if s.variants:
        v, vc = s.variants, columns.variants
        m = len(vc)
        vflag = np.bincount(vc.districts.row_of[vc.districts.idx < 0], minlength=m) > 0
        outcome, has_outcome, _ = v["outcome_score"]
        vflag |= has_outcome & (outcome > facts.scale.outcome_max)
        vflag |= v["social_scores"].given & _off_scale(v["social_scores"], facts)
        vflag |= v["cost_profile"].given & (v["cost_profile"].lengths != facts.years)
        flag |= np.bincount(s.rows.parents[vflag], minlength=n) > 0
    for i in np.flatnonzero(flag).tolist():
        check_application(facts, i, s.rows.application(i))


def _off_scale(rows: screen.Rows, facts: RoundFacts) -> np.ndarray:
    """Rows of social scores of the wrong length or above the scale's maximum."""
    n = len(rows.ptr) - 1
    high = np.bincount(np.repeat(np.arange(n), rows.lengths)[rows.flat > facts.scale.social_max], minlength=n)
    return (rows.lengths != facts.n_social) | (high > 0)  # type: ignore[no-any-return]
