"""A feasible allocation fast: greedy by value for money, repairing every rule as it goes.

Large rounds (tens of thousands of applications) can take a solver longer to find its first
allocation than a caller will wait. This builds one in seconds from the compiled rows, so it
serves every rule kind alike (coverage, equality gaps, no new gaps, caps, spend targets,
commitments): rows stated with a lower bound (a district left unserved, too few organisations)
are repaired first, each with the best value for money among the awards that help it; then the
rest of the budget is filled in order of value for money. An award is added only if no row
moves further outside its bounds. Auxiliary variables follow the awards: the total T is the sum
of costs, and a 0/1 auxiliary (an organisation "funded") is raised once every row it sits in
allows it. Floating point is used throughout: the result is a *candidate*, judged by the
independent verifier before anyone uses it (`solve` hands it to the solver as a start and keeps
it as the incumbent should the time limit strike first).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from allocate.backends.base import RawSolution, RawStatus, proven
from allocate.compile import TOTAL_RULE, CompiledProblem
from allocate.errors import SolverError
from allocate.options import SolverOptions


class _State:
    """Row activities of the allocation being built, with the total T held at an assumed amount.

    Holding T at `total` makes every share row ("district d gets at least r x T") a plain money
    row, so each award moves only the few rows it appears in.
    """

    def __init__(self, model: CompiledProblem, csc: sp.csc_matrix, links: sp.csr_matrix | None, total: float):
        self.model = model
        self.cols = csc
        self.links = links
        self.lo, self.hi = model.row_lo.copy(), model.row_hi.copy()
        self.x = np.zeros(model.n_vars)
        self.act = np.zeros(csc.shape[0])
        if model.total_col is not None:
            self.act += total * csc[:, [model.total_col]].toarray().ravel()
            self.lo[model.row_rule == TOTAL_RULE] = -np.inf  # T's own row: T is held, not summed
            self.hi[model.row_rule == TOTAL_RULE] = np.inf
        aux = np.arange(model.n, model.n_vars)
        self.aux = aux[aux != model.total_col]

    def delta(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, change in activity) when variable j goes from 0 to 1."""
        A = self.cols
        part = slice(A.indptr[j], A.indptr[j + 1])
        return A.indices[part], A.data[part]

    def allows(self, rows: np.ndarray, change: np.ndarray) -> bool:
        """Whether no row moves further outside its bounds."""
        act = self.act[rows]
        new = act + change
        return bool(
            np.all(new >= np.minimum(self.lo[rows], act)) and np.all(new <= np.maximum(self.hi[rows], act))
        )

    def add(self, j: int) -> bool:
        """Fund award j (and raise the auxiliaries it allows) if no row gets worse."""
        rows, change = self.delta(j)
        if not self.allows(rows, change):
            return False
        self.act[rows] += change
        self.x[j] = 1.0
        if self.links is not None:
            for k in self.aux[self.links.indices[self.links.indptr[j] : self.links.indptr[j + 1]]]:
                if self.x[k] == 0.0:
                    rows, change = self.delta(int(k))
                    if self.allows(rows, change):
                        self.act[rows] += change
                        self.x[k] = 1.0
        return True

    def short(self) -> np.ndarray:
        """Rows whose activity is below their lower bound."""
        return np.flatnonzero(self.act < self.lo)


CONSTRUCT_FROM = 1_000
"""`solve` builds a start on rounds with at least this many candidate awards. Below it the
solvers find their first allocation in well under a second (East Sussex: 216 candidates), and a
start would only change which of several equal allocations they settle on."""

ROUNDS = 6
"""Greedy passes at most: each holds T at the total the previous pass spent."""


def construct(model: CompiledProblem, objective: np.ndarray) -> np.ndarray | None:
    """A 0/1 allocation over `model`'s variables that meets every row, or None if greedy repair fails.

    Deterministic: ties in value for money go to the earlier candidate.
    """
    n = model.n
    csc = model.A.tocsc()
    csc.sort_indices()
    csr = model.A.tocsr()
    aux = np.setdiff1d(np.arange(n, model.n_vars), [] if model.total_col is None else [model.total_col])
    links = None
    if len(aux):  # awards and the auxiliaries they share a structural row with ("funded[o]" and o's awards)
        structural = csr[np.flatnonzero(model.row_structural & (model.row_rule != TOTAL_RULE))]
        links = ((abs(structural[:, :n]).T @ abs(structural[:, aux])) != 0).tocsr()
    value = objective[:n]
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(model.cost > 0, value / model.cost, np.where(value > 0, np.inf, -np.inf))
    order = np.lexsort((np.arange(n), -density))  # best value for money first, then by index
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    total = _spend_ignoring_shares(model, csc, order, density)
    first: list[int] = []
    for _ in range(ROUNDS):
        state = _State(model, csc, links, total)
        x = _greedy(model, state, csr, order, rank, density, first)
        if x is None:
            unmet = [r for r in state.short().tolist() if r not in first]
            if not unmet:
                return None
            first += unmet  # next pass repairs them before the rows that used up their helpers
            continue
        spent = float(model.cost @ x[:n])
        if model.total_col is not None:
            x[model.total_col] = spent
        act = csr @ x
        # Within the rules' stated bounds (inside the solver margins): the verifier will agree.
        if np.all(act >= model.stated_lo) and np.all(act <= model.stated_hi):
            return x
        if spent == total:
            return None
        total = spent
    return None


def _spend_ignoring_shares(
    model: CompiledProblem, csc: sp.csc_matrix, order: np.ndarray, density: np.ndarray
) -> float:
    """What a greedy fill spends under every row that does not involve T: the first guess at T."""
    if model.total_col is None:
        return 0.0
    t = csc[:, [model.total_col]].toarray().ravel() != 0
    plain = dataclasses.replace(
        model, row_lo=np.where(t, -np.inf, model.row_lo), row_hi=np.where(t, np.inf, model.row_hi)
    )
    state = _State(plain, csc, None, 0.0)
    state.lo = np.where(state.lo > state.act, -np.inf, state.lo)  # fill only: ignore what needs repair
    for j in order.tolist():
        if density[j] > 0 and model.var_ub[j] >= 1:
            state.add(j)
    return float(model.cost @ state.x[: model.n])


def _greedy(
    model: CompiledProblem,
    state: _State,
    csr: sp.csr_matrix,
    order: np.ndarray,
    rank: np.ndarray,
    density: np.ndarray,
    first: list[int],
) -> np.ndarray | None:
    """Repair rows short of their lower bound (`first` first), then fill by value for money.

    T is held at the total in `state`. None when some row could not be repaired.
    """
    n = model.n
    free = (model.var_ub[:n] >= 1) & (model.var_lb[:n] <= 0)
    for j in np.flatnonzero(model.var_lb[:n] >= 1):  # locked in: must fund
        rows, change = state.delta(int(j))
        state.act[rows] += change
        state.x[j] = 1.0
    if np.any(state.act > state.hi):
        return None  # the locked awards alone break a rule
    aux_awards = state.links.T.tocsr() if state.links is not None else None
    for _ in range(3):
        short = state.short()
        if not len(short):
            break
        # The scarcest first: a cell only one bid can serve before a district many can.
        helpers = [_helpers(state, csr, aux_awards, r) for r in short.tolist()]
        urgent = [first.index(r) if r in first else len(first) for r in short.tolist()]
        for i in np.lexsort(([len(h) for h in helpers], urgent)).tolist():
            r, helps = int(short[i]), helpers[i]
            for j in helps[np.argsort(rank[helps], kind="stable")].tolist():
                if state.act[r] >= state.lo[r]:
                    break
                if free[j] and state.x[j] == 0.0:
                    state.add(j)
    if len(state.short()):
        return None
    for j in order.tolist():
        if free[j] and state.x[j] == 0.0 and density[j] > 0:
            state.add(j)
    return state.x


def _helpers(state: _State, csr: sp.csr_matrix, aux_awards: sp.csr_matrix | None, r: int) -> np.ndarray:
    """Awards whose funding raises row r (directly or through an auxiliary such as "funded")."""
    n = state.model.n
    part = slice(csr.indptr[r], csr.indptr[r + 1])
    cols, data = csr.indices[part], csr.data[part]
    found = [cols[(cols < n) & (data > 0)]]
    if aux_awards is not None:
        raised = cols[(cols >= n) & (data > 0)]
        position = np.searchsorted(state.aux, raised)
        ok = (position < len(state.aux)) & (state.aux[np.minimum(position, len(state.aux) - 1)] == raised)
        for k, p in zip(raised[ok].tolist(), position[ok].tolist(), strict=True):
            if state.x[k] == 0.0:
                found.append(aux_awards.indices[aux_awards.indptr[p] : aux_awards.indptr[p + 1]])
    return np.unique(np.concatenate(found))


def better_of(
    raw: RawSolution, start: np.ndarray, objective: np.ndarray, options: SolverOptions
) -> RawSolution:
    """The solver's answer, or the constructed start where the solver found nothing better in time.

    A solver that calls the round infeasible although the start meets every row is wrong: that
    is an error, never an answer.
    """
    if raw.status == "infeasible":
        raise SolverError(
            f"backend {raw.solver!r} called the round infeasible, but a constructed allocation meets every rule"
        )
    value = float(objective @ start)
    extra = {**raw.extra, "start_value": value}
    if raw.x is not None and raw.objective is not None and raw.objective >= value:
        return dataclasses.replace(raw, extra=extra)
    bound = raw.bound if raw.bound is not None and np.isfinite(raw.bound) else None
    status: RawStatus = "optimal" if proven(value, bound, options) else "feasible"
    return dataclasses.replace(
        raw,
        status=status,
        x=start,
        objective=value,
        bound=bound,
        extra={**extra, "answer": "constructed start"},
    )
