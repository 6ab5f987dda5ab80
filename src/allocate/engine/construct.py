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

import copy
import dataclasses

import numpy as np
import scipy.sparse as sp

from allocate.engine.compile import TOTAL_RULE, CompiledProblem

CONSTRUCT_FROM = 10_000
"""`solve` builds a start on rounds with at least this many candidate awards. Measured
(benchmarks/RESULTS.md, "Scale"): at 17,300 applications (22,600 candidates) CP-SAT ends 60 s at
a 2.0% gap from the start against 3.4% without; at 1,730 (2,260) the start slows it (1.8% against
1.5%), and below that the solvers find their own first allocation in well under a second.
"""

BATCH, MAX_BATCH = 64, 4096
"""Candidates screened together by `_State.fill`: from BATCH, doubling while they all fit."""
SCREEN_FROM = 32
"""Shorter lists (most repairs: a cell a few bids serve) are tried one by one straight away."""

SPEND_SLACK = 1e-3
"""Share rows are made to hold for any total within this fraction below the assumed one, so
that a pass spending a little less than assumed (as most do) needs no second pass."""

ROUNDS = 6
"""Greedy passes at most: each holds T at the total the previous pass spent."""


class _Columns:
    """The constraint matrix by column, as plain lists: funding one award touches a handful of
    rows, and Python reads a few list items faster than numpy slices them (6x at 173k bids)."""

    def __init__(self, csc: sp.csc_matrix, links: sp.csr_matrix | None, aux: np.ndarray) -> None:
        self.csc = csc
        self.ptr: list[int] = csc.indptr.tolist()
        self.rows: list[int] = csc.indices.tolist()
        self.data: list[float] = csc.data.tolist()
        self.links: sp.csr_matrix | None = links
        self.aux = aux
        self.link_ptr: list[int] = [] if links is None else links.indptr.tolist()
        self.linked: list[int] = [] if links is None else aux[links.indices].tolist()
        self.awards_of_aux: sp.csr_matrix | None = None if links is None else links.T.tocsr()

    def without_links(self) -> _Columns:
        """The same columns with no auxiliaries raised alongside awards."""
        plain = copy.copy(self)
        plain.links, plain.link_ptr, plain.linked, plain.awards_of_aux = None, [], [], None
        return plain


class _State:
    """Row activities of the allocation being built, with the total T held at an assumed amount.

    Holding T at `total` makes every share row ("district d gets at least r x T") a plain money
    row, so each award moves only the few rows it appears in.
    """

    def __init__(
        self, model: CompiledProblem, columns: _Columns, total: float, low: float | None = None
    ) -> None:
        self.model = model
        self.columns = columns
        self.cols = columns.csc
        self.aux = columns.aux
        self.lo, self.hi = model.row_lo.copy(), model.row_hi.copy()
        self.x = np.zeros(model.n_vars)
        self.act = np.zeros(self.cols.shape[0])
        if model.total_col is not None:
            t = self.cols[:, [model.total_col]].toarray().ravel()
            self.act += total * t
            # Rows must hold for any T from `low` to `total`: each takes its worst case.
            room = total - (total if low is None else low)
            self.lo += np.maximum(t, 0.0) * room
            self.hi -= np.maximum(-t, 0.0) * room
            self.lo[model.row_rule == TOTAL_RULE] = -np.inf  # T's own row: T is held, not summed
            self.hi[model.row_rule == TOTAL_RULE] = np.inf
        self._act: list[float] = self.act.tolist()  # the same numbers, for the one-award path
        self._lo: list[float] = self.lo.tolist()
        self._hi: list[float] = self.hi.tolist()

    def _try(self, j: int) -> bool:
        """Set variable j to 1 if no row moves further outside its bounds."""
        c, act, lo, hi = self.columns, self._act, self._lo, self._hi
        span = range(c.ptr[j], c.ptr[j + 1])
        for i in span:
            r = c.rows[i]
            a = act[r]
            new = a + c.data[i]
            if (new < lo[r] and new < a) or (new > hi[r] and new > a):
                return False
        for i in span:
            r = c.rows[i]
            act[r] += c.data[i]
            self.act[r] = act[r]
        self.x[j] = 1.0
        return True

    def add(self, j: int) -> bool:
        """Fund award j (and raise the auxiliaries it allows) if no row gets worse."""
        if not self._try(j):
            return False
        self._raise_links(j)
        return True

    def _raise_links(self, j: int) -> None:
        """Raise the auxiliaries linked to award j (its organisation "funded") where rows allow."""
        c = self.columns
        if c.links is None:
            return
        for i in range(c.link_ptr[j], c.link_ptr[j + 1]):
            if self.x[c.linked[i]] == 0.0:
                self._try(c.linked[i])

    def fill(self, candidates: np.ndarray, row: int | None = None) -> None:
        """Fund `candidates` in order wherever no row gets worse (until `row` is met, if given).

        Faster than trying them one by one on long lists: each batch is screened in one
        vectorised step against the rows as they stand (an award that breaks a row on its own is
        skipped, even if an earlier award of the batch would have made room, as `Requires` can),
        and the longest run of the rest that fits together is funded at once.
        """
        queue = candidates[self.x[candidates] == 0.0]
        i, size = 0, BATCH
        while i < len(queue):
            if row is not None and self.act[row] >= self.lo[row]:
                return
            batch = queue[i : i + size]
            if len(batch) <= SCREEN_FROM or row is not None:
                j = int(batch[0])
                if self.x[j] == 0.0:
                    self.add(j)
                i += 1
                continue
            keep = np.flatnonzero(self._fits_alone(batch))
            fit = self._fitting_run(batch[keep])
            self._fund(batch[keep[:fit]])
            if fit < len(keep):  # the first that does not fit with those before it: decide it alone
                self.add(int(batch[keep[fit]]))
                i += int(keep[fit]) + 1
            else:
                i += len(batch)
            size = min(MAX_BATCH, max(BATCH, 2 * fit))  # long runs: longer batches

    def _entries(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, change, position in batch) of every matrix entry of the batch's columns."""
        A = self.cols
        counts = A.indptr[batch + 1] - A.indptr[batch]
        at = np.repeat(A.indptr[batch] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        return A.indices[at], A.data[at], np.repeat(np.arange(len(batch)), counts)

    def _fits_alone(self, batch: np.ndarray) -> np.ndarray:
        rows, change, owner = self._entries(batch)
        bad = self._worse(rows, self.act[rows], self.act[rows] + change)
        return np.asarray(np.bincount(owner[bad], minlength=len(batch)) == 0)

    def _worse(self, rows: np.ndarray, before: np.ndarray, new: np.ndarray) -> np.ndarray:
        """Which rows move further outside their bounds, from `before` to `new`."""
        return np.asarray(
            (new < np.minimum(self.lo[rows], before)) | (new > np.maximum(self.hi[rows], before))
        )

    def _fitting_run(self, batch: np.ndarray) -> int:
        """How many of `batch`, funded in order, fit before the first that makes a row worse."""
        rows, change, owner = self._entries(batch)
        if not len(rows):
            return len(batch)
        order = np.lexsort((owner, rows))
        rows, change, owner = rows[order], change[order], owner[order]
        total = np.cumsum(change)
        first = np.r_[True, rows[1:] != rows[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))
        running = total - np.where(start > 0, total[start - 1], 0.0)  # cumulative within each row
        new = self.act[rows] + running
        bad = self._worse(rows, new - change, new)
        return int(owner[bad].min()) if bad.any() else len(batch)

    def _fund(self, awards: np.ndarray) -> None:
        """Fund `awards` (already checked to fit together), then raise their auxiliaries."""
        if not len(awards):
            return
        rows, change, _ = self._entries(awards)
        np.add.at(self.act, rows, change)
        for r in np.unique(rows).tolist():
            self._act[r] = float(self.act[r])
        self.x[awards] = 1.0
        for j in awards.tolist():
            self._raise_links(j)

    def short(self) -> np.ndarray:
        """Rows whose activity is below their lower bound."""
        return np.flatnonzero(self.act < self.lo)


def construct(model: CompiledProblem, objective: np.ndarray) -> np.ndarray | None:
    """A 0/1 allocation over `model`'s variables that meets every row, or None if greedy repair fails.

    Deterministic: ties in value for money go to the earlier candidate.
    """
    n = model.n
    if np.any(model.var_lb[:n] != 0) or np.any(model.var_ub[:n] != 1):
        return None  # compile gives every award 0..1 (locks are rows); anything else is not ours to guess
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
    columns = _Columns(csc, links, aux)
    # How many awards can raise each row (rows raised through an auxiliary count as plenty).
    row_of = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
    helping = np.where(csr.indices < n, 1, n + 1) * (csr.data > 0)
    scarcity = np.bincount(row_of, helping, minlength=csr.shape[0])
    total = _spend_ignoring_shares(model, columns, order, density)
    first: list[int] = []
    for _ in range(ROUNDS):
        state = _State(model, columns, total, total * (1 - SPEND_SLACK))
        x = _greedy(model, state, csr, order, rank, density, first, scarcity)
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
    model: CompiledProblem, columns: _Columns, order: np.ndarray, density: np.ndarray
) -> float:
    """What a greedy fill spends under every row that does not involve T: the first guess at T."""
    if model.total_col is None:
        return 0.0
    t = columns.csc[:, [model.total_col]].toarray().ravel() != 0
    # Fill only: rows with T, and rows that would need repair (short of their lower bound), are left out.
    lo = np.where(t | (model.row_lo > 0), -np.inf, model.row_lo)
    plain = dataclasses.replace(model, row_lo=lo, row_hi=np.where(t, np.inf, model.row_hi))
    state = _State(plain, columns.without_links(), 0.0)
    state.fill(order[density[order] > 0])
    return float(model.cost @ state.x[: model.n])


def _greedy(
    model: CompiledProblem,
    state: _State,
    csr: sp.csr_matrix,
    order: np.ndarray,
    rank: np.ndarray,
    density: np.ndarray,
    first: list[int],
    scarcity: np.ndarray,
) -> np.ndarray | None:
    """Repair rows short of their lower bound (`first` first, then the scarcest), then fill by
    value for money.

    T is held at the total in `state`. None when some row could not be repaired.
    """
    aux_awards = state.columns.awards_of_aux
    for _ in range(3):
        short = state.short()
        if not len(short):
            break
        # The scarcest first: a cell only one bid can serve before a district many can (rows
        # raised through an auxiliary, such as the count of organisations, last).
        urgent = np.array([first.index(r) if r in first else len(first) for r in short.tolist()])
        for r in short[np.lexsort((scarcity[short], urgent))].tolist():
            if state.act[r] >= state.lo[r]:
                continue  # met on the way by an earlier repair
            helps = _helpers(state, csr, aux_awards, r)
            state.fill(helps[np.argsort(rank[helps], kind="stable")], row=r)
    if len(state.short()):
        return None
    state.fill(order[density[order] > 0])
    return state.x


def _helpers(state: _State, csr: sp.csr_matrix, aux_awards: sp.csr_matrix | None, r: int) -> np.ndarray:
    """Awards whose funding raises row r (directly or through an auxiliary such as "funded")."""
    n = state.model.n
    part = slice(csr.indptr[r], csr.indptr[r + 1])
    cols, data = csr.indices[part], csr.data[part]
    direct: np.ndarray = cols[(cols < n) & (data > 0)]
    raised = cols[(cols >= n) & (data > 0)]
    if aux_awards is None or not len(raised):
        return direct  # distinct already: a CSR row holds each column once
    found = [direct]
    position = np.searchsorted(state.aux, raised)
    ok = (position < len(state.aux)) & (state.aux[np.minimum(position, len(state.aux) - 1)] == raised)
    for k, p in zip(raised[ok].tolist(), position[ok].tolist(), strict=True):
        if state.x[k] == 0.0:
            found.append(aux_awards.indices[aux_awards.indptr[p] : aux_awards.indptr[p + 1]])
    return np.unique(np.concatenate(found))
