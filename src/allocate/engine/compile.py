"""Compile a Problem once into a canonical sparse MILP with labelled rows.

maximise  c·x  subject to  row_lo <= A x <= row_hi,  var_lb <= x <= var_ub,
x integer where `integer` is set. The first `n` variables are the candidate awards
(binary); then, when rules need them, the total awarded money T (column `total_col`)
and auxiliary binaries (e.g. "organisation funded"). Every row carries a label like
``Coverage.min_amount[district=Hastings]`` and the index of the rule that made it
(-1 for the budget, -2 for "at most one option per application", -3 for T's definition).

What is known about a row is stated once, where it is made (`CompileContext.add_rows`), and
carried in per-row arrays beside the label: `row_unit` (what the row counts: pence, a share of
the total awarded in pence, awards, organisations, or value in rows analyses add) and
`row_structural` (the row only defines an auxiliary variable: T's definition `Total`,
MinOrganisations' `link` rows; never a clash on its own). The kind of rule of each row is
`row_kind` (from `row_rule` and the rule's `display_name`). Nothing downstream parses a label.

Arrays are built column-wise with numpy; the only pass over applications is the one
that reads their fields into arrays.

Every row reaches the solvers with a margin outside its stated bounds (`row_margin`), so that
no allocation that meets a rule sits on the edge of a solver's feasibility tolerance:

* a row of whole numbers over 0/1 awards (money in pence, counts) can only take whole values,
  so widening it by half a unit changes nothing it accepts, and gives every solver half a
  penny (or half an award) of room for its own tolerances;
* a row with fractions (money attributed pro rata, shares of the total) is widened by
  `FRACTION_MARGIN` pence: an exact tie (a share exactly on its bound, which floating point
  may compute a few 1e-9 pence on the wrong side) is feasible for every solver. Such rules
  are met to within a thousandth of a penny; the verifier checks them to twice that.

`row_lo`/`row_hi` hold the widened bounds the solvers see; `stated_lo`/`stated_hi` the rules' own.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from allocate.domain import commitments
from allocate.domain.candidates import Candidates, candidate_arrays
from allocate.domain.columns import columns_of
from allocate.domain.model import Problem
from allocate.domain.parts import Weights
from allocate.domain.rows import RowBuilder, Rows, RowUnit
from allocate.domain.rules import budget_label, variants_label
from allocate.domain.tally import Dimension, cell_key


def _incidence(index: np.ndarray, k: int, n: int) -> sp.csr_matrix:
    """n × k 0/1 matrix with a single 1 per row at column index[i]."""
    return sp.csr_matrix((np.ones(n), (np.arange(n), index)), shape=(n, k))


BUDGET_RULE = -1
VARIANTS_RULE = -2
TOTAL_RULE = -3
ANALYSIS_RULE = -4

GROUP_NAMES = {
    BUDGET_RULE: "budget",
    VARIANTS_RULE: "one option per application",
    TOTAL_RULE: "total awarded",
    ANALYSIS_RULE: "analysis row",
}
"""The kind (display name) of the rows that no rule of the problem made."""

_UNIT_DTYPE = "<U13"
"""Fixed-width strings wide enough for every RowUnit ("organisations")."""

WHOLE_MARGIN = 0.5
"""Margin of a row whose coefficients and bounds are whole numbers over integer variables."""
FRACTION_MARGIN = 1e-3
"""Margin (pence) of a row with fractional coefficients: far above floating-point noise on sums
up to MAX_PENCE, far below a penny, and not a round fraction (so no share lands exactly on it)."""


class CompileContext(RowBuilder):
    """What rules see while emitting rows: candidate arrays and incidence matrices (the rows
    they add are collected by `RowBuilder`)."""

    problem: Problem

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        columns = columns_of(problem)
        arrays = candidate_arrays(columns, problem.budget.years)
        self.arrays = arrays
        self.candidates = Candidates(problem, arrays)
        self.n = len(arrays.app_of)
        self.cost = arrays.cost.astype(np.float64)
        self.outcome = arrays.outcome
        self.social = arrays.social
        self.beneficiaries = arrays.beneficiaries.astype(np.float64)
        self.profile = arrays.profile
        self.app_of = arrays.app_of
        self._first = arrays.first
        self._columns = columns
        self.organisations = sorted(set(columns.organisation))
        org_pos = {o: i for i, o in enumerate(self.organisations)}
        org_of = np.fromiter(
            map(org_pos.__getitem__, columns.organisation), dtype=np.int64, count=len(columns)
        )
        self.org_matrix = _incidence(org_of[self.app_of], len(self.organisations), self.n)
        self._district_ids = [d.id for d in problem.districts]
        self._group_ids = [g.id for g in problem.client_groups]
        self._district_attr, self._district_serve = self._districts()
        self._group_attr, self._group_serve = self._groups()
        self._cell: tuple[sp.csr_matrix, sp.csr_matrix] | None = None
        self._tag: sp.csr_matrix | None = None
        self._money_rows: dict[Dimension, sp.csr_matrix] = {}
        self._serve_rows: dict[Dimension, sp.csr_matrix] = {}
        self.rows = Rows()
        self.n_rows = 0
        self.rule_index = 0
        self.aux_labels: list[str] = []
        self.total_col: int | None = None

    # -- incidence -------------------------------------------------------------------
    def _districts(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        problem = self.problem
        basis = np.array(
            [d.population if problem.attribution == "population" else d.need for d in problem.districts],
            dtype=np.float64,
        )
        n_d = len(self._district_ids)
        served = self.arrays.districts
        counts = served.lengths.copy()
        everywhere = counts == 0
        counts[everywhere] = n_d
        rows = np.repeat(np.arange(self.n), counts)
        wide = np.repeat(everywhere, counts)
        cols = np.empty(len(rows), dtype=np.int64)
        cols[~wide] = served.idx
        cols[wide] = np.tile(np.arange(n_d), int(everywhere.sum()))
        w = basis[cols]
        sums = np.add.reduceat(w, np.concatenate([[0], np.cumsum(counts)[:-1]])) if self.n else w
        attr = sp.csr_matrix((w / np.repeat(sums, counts), (rows, cols)), shape=(self.n, n_d))
        serve = sp.csr_matrix((np.ones_like(w), (rows, cols)), shape=(self.n, n_d))
        return attr, serve

    def _groups(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        groups = self.arrays.client_groups
        counts = groups.lengths
        cols = groups.idx
        rows = np.repeat(np.arange(self.n), counts)
        shape = (self.n, len(self._group_ids))
        attr = sp.csr_matrix((1.0 / counts[rows], (rows, cols)), shape=shape)
        serve = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=shape)
        return attr, serve

    def _cells(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        if self._cell is None:
            n_g = len(self._group_ids)
            d = self._district_attr.tocoo()
            g = self._group_attr.tocsr()
            # Each (candidate, district) entry pairs with every group of that candidate.
            starts, ends = g.indptr[d.row], g.indptr[d.row + 1]
            reps = ends - starts
            # idx runs over starts[k] .. ends[k] - 1 for every entry k, without a Python loop.
            offsets = np.repeat(np.cumsum(reps) - reps, reps)
            idx = np.repeat(starts, reps) + (np.arange(int(reps.sum())) - offsets)
            rows = np.repeat(d.row, reps)
            cols = np.repeat(d.col, reps) * n_g + g.indices[idx]
            w = np.repeat(d.data, reps) * g.data[idx]
            shape = (self.n, len(self._district_ids) * n_g)
            self._cell = (
                sp.csr_matrix((w, (rows, cols)), shape=shape),
                sp.csr_matrix((np.ones_like(w), (rows, cols)), shape=shape),
            )
        return self._cell

    def _tags(self) -> sp.csr_matrix:
        """n × tags 0/1 matrix: the tags of each candidate's application and organisation."""
        if self._tag is None:
            problem = self.problem
            pos = {t: i for i, t in enumerate(problem.tags)}
            by_org = problem._organisation_tags
            per_app = [
                [pos[t] for t in sorted({*own, *by_org.get(o, ())})]
                for own, o in zip(self._columns.tags, self._columns.organisation, strict=True)
            ]
            counts = np.array([len(per_app[i]) for i in self.app_of], dtype=np.int64)
            cols = np.fromiter(
                (k for i in self.app_of for k in per_app[i]), dtype=np.int64, count=int(counts.sum())
            )
            rows = np.repeat(np.arange(self.n), counts)
            self._tag = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(self.n, len(pos)))
        return self._tag

    def keys(self, over: Dimension) -> list[str]:
        if over == "district":
            return list(self._district_ids)
        if over == "client_group":
            return list(self._group_ids)
        if over == "tag":
            return list(self.problem.tags)
        return [cell_key(d, g) for d in self._district_ids for g in self._group_ids]

    def _matrices(self, over: Dimension) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """(`attr`, `serve`) of a dimension (over tags both are the tag matrix)."""
        if over == "district":
            return self._district_attr, self._district_serve
        if over == "client_group":
            return self._group_attr, self._group_serve
        if over == "tag":
            return self._tags(), self._tags()
        return self._cells()

    def attr(self, over: Dimension) -> sp.csr_matrix:
        """n × K matrix: share of each candidate's money attributed to each key (a tag: all of it)."""
        return self._matrices(over)[0]

    def serve(self, over: Dimension) -> sp.csr_matrix:
        """n × K 0/1 matrix: whether each candidate serves (carries) each key."""
        return self._matrices(over)[1]

    def money_rows(self, over: Dimension) -> sp.csr_matrix:
        """K × n: the pence of each candidate attributed to each key (made once per dimension:
        several rules bound the same keys' money)."""
        if over not in self._money_rows:
            self._money_rows[over] = self.attr(over).multiply(self.cost[:, None]).T.tocsr()
        return self._money_rows[over]

    def serve_rows(self, over: Dimension) -> sp.csr_matrix:
        """K × n 0/1: whether each candidate serves each key (made once per dimension)."""
        if over not in self._serve_rows:
            self._serve_rows[over] = self.serve(over).T.tocsr()
        return self._serve_rows[over]

    def options_of(self, application_id: str) -> np.ndarray:
        i = self._columns.position[application_id]
        return np.arange(self._first[i], self._first[i + 1])

    def candidate(self, application_id: str, variant_id: str | None) -> int:
        ids = self._columns.variants.ids
        for j in self.options_of(application_id).tolist():
            v = int(self.arrays.variant_of[j])
            if (None if v < 0 else ids[v]) == variant_id:
                return int(j)
        raise KeyError((application_id, variant_id))

    # -- rows and auxiliary variables ------------------------------------------------
    def total(self) -> int:
        """Column of T, the total awarded money, created on first use."""
        if self.total_col is None:
            self.total_col = self.n_vars
            self.aux_labels.append("total_awarded")
            cost = sp.csr_matrix(self.cost[None, :])
            self.add_rows(
                ["Total"], 0.0, 0.0, unit="pence", structural=True, x=cost, total=[-1.0], rule=TOTAL_RULE
            )
        return self.total_col


ROW_FIELDS = (
    "row_lo",
    "row_hi",
    "row_labels",
    "row_rule",
    "row_margin",
    "row_unit",
    "row_structural",
)
"""CompiledProblem's per-row arrays: whatever adds or drops rows keeps every one in step."""


@dataclass(frozen=True)
class CompiledProblem:
    """The canonical MILP of a Problem; solved by every backend, reused across what-ifs."""

    problem: Problem
    candidates: Candidates
    """Made on demand (`Candidates`): a national round's compile needs no Candidate object."""
    A: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    row_labels: tuple[str, ...]
    row_rule: np.ndarray
    row_margin: np.ndarray
    """How far row_lo/row_hi lie outside the rules' stated bounds (see the module docstring)."""
    row_unit: np.ndarray
    """What each row counts (a `RowUnit`: "pence", "share", "awards", "organisations", "value")."""
    row_structural: np.ndarray
    """Rows that only define an auxiliary variable (T, "organisation funded"): never a clash alone."""
    var_lb: np.ndarray
    var_ub: np.ndarray
    integer: np.ndarray
    var_labels: tuple[str, ...]
    cost: np.ndarray
    outcome_norm: np.ndarray
    social_norm: np.ndarray
    beneficiaries: np.ndarray
    total_col: int | None

    def __post_init__(self) -> None:
        rows = self.A.shape[0]
        for name in ROW_FIELDS:
            if len(getattr(self, name)) != rows:
                raise ValueError(
                    f"CompiledProblem.{name} has {len(getattr(self, name))} entries for {rows} rows"
                )

    @property
    def n(self) -> int:
        """Number of candidate awards (the first n variables)."""
        return len(self.candidates)

    @property
    def n_vars(self) -> int:
        return len(self.var_labels)

    def rule_kind(self, group: int) -> str:
        """The kind of rule of a row group (`row_rule` value), e.g. "coverage rule" or "budget"."""
        return GROUP_NAMES[group] if group < 0 else self.problem.rules[group].display_name

    @property
    def row_kind(self) -> tuple[str, ...]:
        """The kind of rule of each row (see `rule_kind`)."""
        names = {int(g): self.rule_kind(int(g)) for g in np.unique(self.row_rule)}
        return tuple(names[int(g)] for g in self.row_rule)

    @property
    def stated_lo(self) -> np.ndarray:
        """Row lower bounds as the rules state them (without the solver margin)."""
        return np.asarray(self.row_lo + self.row_margin)

    @property
    def stated_hi(self) -> np.ndarray:
        """Row upper bounds as the rules state them (without the solver margin)."""
        return np.asarray(self.row_hi - self.row_margin)

    def with_row(
        self,
        coefs: np.ndarray,
        lo: float,
        hi: float,
        label: str,
        rule: int = ANALYSIS_RULE,
        *,
        unit: RowUnit = "value",
    ) -> CompiledProblem:
        """A copy with one more row lo <= coefs·x <= hi (e.g. an epsilon constraint on value)."""
        row = sp.csr_matrix(np.asarray(coefs, dtype=np.float64)[None, :])
        return dataclasses.replace(
            self,
            A=sp.vstack([self.A, row]).tocsr(),
            row_lo=np.append(self.row_lo, lo),
            row_hi=np.append(self.row_hi, hi),
            row_labels=(*self.row_labels, label),
            row_rule=np.append(self.row_rule, rule),
            row_margin=np.append(self.row_margin, 0.0),
            row_unit=np.append(self.row_unit, unit),
            row_structural=np.append(self.row_structural, False),
        )

    def objective(self, weights: Weights | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(outcome part, social part) of each variable's objective coefficient."""
        w = self.problem.weights if weights is None else weights
        omega = np.asarray(w.social_objective_weights or np.ones(self.social_norm.shape[1]), dtype=np.float64)
        social = self.social_norm @ (omega / omega.sum())
        base: np.ndarray
        if w.value_form == "quality_pounds":
            base = self.cost / 100.0
        elif w.value_form == "score_sum":
            base = np.full(self.n, 100.0)
        else:
            base = self.beneficiaries
        pad = np.zeros(self.n_vars - self.n)
        share = w.social_value_share
        return (
            np.concatenate([(1 - share) * self.outcome_norm * base, pad]),
            np.concatenate([share * social * base, pad]),
        )


def compile_problem(problem: Problem) -> CompiledProblem:
    """Build the canonical MILP of a problem (budget, variants and every rule)."""
    ctx = CompileContext(problem)
    budget = problem.budget
    ctx.rule_index = BUDGET_RULE
    cost = sp.csr_matrix(ctx.cost[None, :])
    # Commitments from earlier rounds take their share of each year first (exact pence).
    committed = commitments.per_year(problem)
    ctx.add_rows([budget_label()], -math.inf, float(budget.total - sum(committed)), unit="pence", x=cost)
    if budget.per_year is not None:
        ctx.add_rows(
            [budget_label(y + 1) for y in range(budget.years)],
            -math.inf,
            np.array([b - c for b, c in zip(budget.per_year, committed, strict=True)], dtype=np.float64),
            unit="pence",
            x=sp.csr_matrix(ctx.profile.T.astype(np.float64)),
        )
    ctx.rule_index = VARIANTS_RULE
    multi = np.flatnonzero(np.diff(ctx._first) > 1)
    if len(multi):
        rows = np.searchsorted(multi, ctx.app_of)
        keep = np.isin(ctx.app_of, multi)
        m = sp.csr_matrix(
            (np.ones(int(keep.sum())), (rows[keep], np.flatnonzero(keep))), shape=(len(multi), ctx.n)
        )
        labels = [variants_label(ctx._columns.ids[i]) for i in multi.tolist()]
        ctx.add_rows(labels, -math.inf, 1.0, unit="awards", x=m)
    for i, rule in enumerate(problem.rules):
        ctx.rule_index = i
        rule.emit(ctx)
    return _assemble(problem, ctx)


def _assemble(problem: Problem, ctx: CompileContext) -> CompiledProblem:
    n_vars = ctx.n_vars
    rows, cols, vals = [], [], []
    for r0, c0, block in ctx.rows.blocks:
        rows.append(block.row + r0)
        cols.append(block.col + c0)
        vals.append(block.data)
    A = sp.csr_matrix(
        (
            np.concatenate(vals) if vals else np.zeros(0),
            (
                np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64),
                np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64),
            ),
        ),
        shape=(ctx.n_rows, n_vars),
    )
    A.sum_duplicates()
    A.eliminate_zeros()
    var_ub = np.ones(n_vars)
    integer = np.ones(n_vars, dtype=bool)
    if ctx.total_col is not None:
        var_ub[ctx.total_col] = float(ctx.cost.sum())
        integer[ctx.total_col] = False
    labels = (*ctx.arrays.labels, *ctx.aux_labels)
    scale = problem.scale
    lo = np.concatenate(ctx.rows.lo) if ctx.rows.lo else np.zeros(0)
    hi = np.concatenate(ctx.rows.hi) if ctx.rows.hi else np.zeros(0)
    rule = np.concatenate(ctx.rows.rule) if ctx.rows.rule else np.zeros(0, dtype=np.int64)
    margin = _margins(A, lo, hi, integer, rule)
    return CompiledProblem(
        problem=problem,
        candidates=ctx.candidates,
        A=A,
        row_lo=lo - margin,
        row_hi=hi + margin,
        row_labels=tuple(ctx.rows.labels),
        row_rule=rule,
        row_margin=margin,
        row_unit=np.array(ctx.rows.unit, dtype=_UNIT_DTYPE),
        row_structural=np.concatenate(ctx.rows.structural)
        if ctx.rows.structural
        else np.zeros(0, dtype=bool),
        var_lb=np.zeros(n_vars),
        var_ub=var_ub,
        integer=integer,
        var_labels=labels,
        cost=ctx.cost,
        outcome_norm=ctx.outcome / scale.outcome_max,
        social_norm=ctx.social / scale.social_max,
        beneficiaries=ctx.beneficiaries,
        total_col=ctx.total_col,
    )


def _margins(
    A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray, integer: np.ndarray, rule: np.ndarray
) -> np.ndarray:
    """Each row's margin: half a unit for whole-number rows, FRACTION_MARGIN otherwise.

    T's own definition (an equation with a continuous T) is exact and keeps no margin.
    """
    row_of = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    fractional = (A.data != np.round(A.data)) | ~integer[A.indices]
    whole = np.bincount(row_of[fractional], minlength=A.shape[0]) == 0
    for bound in (lo, hi):
        finite = np.isfinite(bound)
        whole &= ~finite | (bound == np.round(np.where(finite, bound, 0.0)))
    margin = np.where(whole, WHOLE_MARGIN, FRACTION_MARGIN)
    margin[rule == TOTAL_RULE] = 0.0
    return margin
