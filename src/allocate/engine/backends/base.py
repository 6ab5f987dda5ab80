"""The backend protocol: a compiled problem and options in, a raw solution out."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from allocate.domain.errors import AllocateError, SolverError
from allocate.engine.compile import CompiledProblem

# SolverOptions lives in allocate.engine.options; re-exported here, where it used to live.
from allocate.engine.options import SolverOptions as SolverOptions
from allocate.engine.options import Status

RawStatus = Status
"""A backend reads its solver's status into the same four words an Allocation reports."""


@dataclass(frozen=True)
class RawSolution:
    """What a backend read from its solver: own status, values, objective and bound."""

    status: RawStatus
    x: np.ndarray | None
    objective: float | None
    bound: float | None
    solver: str
    version: str
    seconds: float
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


Start = np.ndarray | None
"""A starting allocation (0/1 per variable) a solver may use as a warm start, or None."""
Pins = Mapping[int, int] | None
"""Variables pinned to a value (column -> 0 or 1) for one solve only, or None."""


class Session(Protocol):
    """A compiled problem loaded into one solver, re-solvable with new objectives.

    What-if analyses change only the objective, so the constraint matrix is loaded once.
    ``objective`` has one coefficient per variable and is maximised; ``hint`` is a starting
    allocation (0/1 per variable) the solver may use as a warm start.
    """

    build_seconds: float

    def solve(
        self, objective: np.ndarray, options: SolverOptions, hint: Start = None, fix: Pins = None
    ) -> RawSolution:
        """Solve; `fix` pins some variables to a value for this solve only."""
        ...


MAX_CUTS = 50
"""Allocations excluded for breaking a row beyond its margin before a solve gives up."""


class MarginCheck:
    """Whether an answer, its integers rounded (and T recomputed), breaks a rule's row beyond its margin.

    Only rows with a margin (the rules' rows) are checked: T's definition holds by construction
    here, and rows an analysis adds (e.g. an epsilon constraint on value) carry no margin. The
    rows are sliced once per model, not once per solve.
    """

    def __init__(self, model: CompiledProblem) -> None:
        rules = model.row_margin > 0
        self.model = model
        self.A = model.A[rules].tocsr()
        self.abs_A = abs(self.A)
        self.lo, self.hi = model.row_lo[rules], model.row_hi[rules]

    def on_awards(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Row i over the awards alone (T = cost @ x substituted) and a bound on each coefficient's
        rounding error; None if the row holds other columns."""
        model = self.model
        start, end = self.A.indptr[i], self.A.indptr[i + 1]
        cols, values = self.A.indices[start:end], self.A.data[start:end]
        row, size = np.zeros(model.n), np.zeros(model.n)
        awards = cols < model.n
        row[cols[awards]] = values[awards]
        size[cols[awards]] = np.abs(values[awards])
        for j, v in zip(cols[~awards].tolist(), values[~awards].tolist(), strict=True):
            if j != model.total_col:
                return None
            row += v * model.cost
            size += abs(v) * np.abs(model.cost)
        return row, 4 * np.finfo(float).eps * size

    def _rounded(self, x: np.ndarray) -> np.ndarray:
        model = self.model
        rounded = np.where(model.integer, np.round(x), x)
        if model.total_col is not None:
            rounded[model.total_col] = model.cost @ rounded[: model.n]
        return rounded

    def _low_high(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows the rounded answer breaks below their lower bound, and above their upper one."""
        rounded = self._rounded(x)
        activity = self.A @ rounded
        # Floating-point noise of the sums (a continuous variable may sit exactly on a bound), far
        # below the margins (half a unit, a thousandth of a penny) this check is about.
        noise = 1e-6 + 1e-12 * (self.abs_A @ np.abs(rounded))
        return activity < self.lo - noise, activity > self.hi + noise

    def broken(self, x: np.ndarray) -> bool:
        low, high = self._low_high(x)
        return bool(low.any() or high.any())

    def cuts(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Award sets to exclude, as (up, down) index arrays: each cut says "fund an award in `up`
        or drop one in `down`"; empty if the answer breaks no row.

        For a broken row over the awards alone, every allocation that only drops awards pushing
        the row towards its bound and only adds awards pushing it away breaks the row at least
        as much (its activity moves further past the bound), so one cut excludes that whole
        family, not just this answer; such cuts remove no allocation that meets the row. For
        any other broken row the cut is the answer's own set of awards (a no-good).
        """
        low, high = self._low_high(x)
        chosen = x[: self.model.n] > 0.5
        cuts: list[tuple[np.ndarray, np.ndarray]] = []
        for rows, sign in ((np.flatnonzero(low), 1.0), (np.flatnonzero(high), -1.0)):
            for i in rows.tolist():
                found = self.on_awards(i)
                if found is None:
                    return [(np.flatnonzero(~chosen), np.flatnonzero(chosen))]
                a, err = sign * found[0], found[1]  # the row as a lower bound it falls short of
                # A coefficient within rounding error of 0 counts as either sign (a weaker, safe cut).
                cuts.append((np.flatnonzero(~chosen & (a > -err)), np.flatnonzero(chosen & (a < err))))
        return cuts


class PinningSession:
    """Shared `solve` of the sessions: pin variables for one solve, then restore their bounds.

    Every answer is checked against the compiled rows once its integers are rounded: a solver's
    integrality tolerance (x = 1 - 1e-7 counted as an award) or CP-SAT's rounded rows can accept
    an allocation a little past a row's margin. Such an allocation is not feasible for the model,
    so its set of awards is excluded for good (valid whatever the objective) and the solve runs
    again; the answer stays exact.

    Subclasses set `name`, `version` (the solver's), `model`, `lb` and `ub` (the model's own
    bounds) and implement `_set_bounds`, `_exclude` and `_solve`.
    """

    name: str
    version: str
    model: CompiledProblem
    lb: np.ndarray
    ub: np.ndarray
    _margins: MarginCheck | None = None

    def solve(
        self, objective: np.ndarray, options: SolverOptions, hint: Start = None, fix: Pins = None
    ) -> RawSolution:
        cols = np.fromiter((fix or {}).keys(), dtype=np.int64)
        if len(cols):
            values = np.fromiter((fix or {}).values(), dtype=np.float64)
            self._set_bounds(cols, values, values)
        try:
            start = time.perf_counter()
            for _ in range(MAX_CUTS + 1):
                # Each re-solve gets what is left of the limit (at least 0.01 s, to report an answer).
                left = options.left_since(start) or options.model_copy(update={"time_limit": 0.01})
                raw = self._solve(objective, left, hint)
                if self._margins is None:
                    self._margins = MarginCheck(self.model)
                cuts = [] if raw.x is None else self._margins.cuts(raw.x)
                if not cuts:
                    return dataclasses.replace(raw, seconds=time.perf_counter() - start)
                for up, down in cuts:
                    self._exclude(up, down)
            raise SolverError(
                f"backend {self.name!r} failed: {MAX_CUTS} answers in a row broke a row beyond its margin"
            )
        except AllocateError:
            raise
        except Exception as exc:  # a solver library's own error: name the backend and the reason
            raise SolverError(f"backend {self.name!r} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            if len(cols):
                self._set_bounds(cols, self.lb[cols], self.ub[cols])

    def _answer(
        self,
        status: RawStatus,
        x: np.ndarray | None,
        objective: float | None,
        bound: float | None,
        started: float,
        message: str,
        extra: dict[str, Any] | None = None,
    ) -> RawSolution:
        """What `_solve`'s solver answered, with this backend's name and version and the time since
        `started` (a ``time.perf_counter()`` reading)."""
        seconds = time.perf_counter() - started
        return RawSolution(
            status, x, objective, bound, self.name, self.version, seconds, message, extra or {}
        )

    def _set_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        raise NotImplementedError

    def _exclude(self, up: np.ndarray, down: np.ndarray) -> None:
        """Add the row "fund an award in `up` or drop one in `down`" (see MarginCheck.cuts)."""
        raise SolverError(f"backend {self.name!r} returned an allocation that breaks a row beyond its margin")

    def _solve(self, objective: np.ndarray, options: SolverOptions, hint: np.ndarray | None) -> RawSolution:
        raise NotImplementedError


FLOAT_TRUSTED_PENCE = 10**10
"""The largest amount (£100m) on which the floating-point MIP backend (HiGHS) is trusted.

Measured (benchmarks/RESULTS.md, differential fuzz): HiGHS and CBC (since removed) gave wrong
"optimal" or "infeasible" answers only on rounds with amounts of 1.9e11 pence or more, where a
penny is 1e-11 of a row and below what double-precision tolerances resolve; 1e10 keeps a 19x
margin. CP-SAT, on exact integers, is trusted up to MAX_PENCE."""


class Backend(Protocol):
    """A solver adapter: loads a compiled problem into a Session (after `check_range`)."""

    name: str
    max_pence: int
    """The largest amount of money this backend is trusted on (see docs/engine.md)."""

    def prepare(self, model: CompiledProblem) -> Session: ...


def largest_amount(model: CompiledProblem) -> float:
    """The largest amount of money in the model: an award's cost or a rule's stated bound."""
    bounds = np.concatenate([model.stated_lo, model.stated_hi])
    finite = np.abs(bounds[np.isfinite(bounds)])
    return float(max(model.cost.max(initial=0.0), finite.max(initial=0.0)))


def check_range(backend: Backend, model: CompiledProblem) -> None:
    """Refuse a round whose money lies beyond what `backend` is trusted on, rather than risk a wrong answer."""
    largest = largest_amount(model)
    if largest > backend.max_pence:
        raise SolverError(
            f"backend {backend.name!r} is trusted on amounts up to £{backend.max_pence // 100:,} "
            f"and this round has £{largest / 100:,.2f}: use backend 'cpsat' (exact integers, "
            "trusted to £10bn)"
        )


def solve_once(
    backend: Backend,
    model: CompiledProblem,
    objective: np.ndarray,
    options: SolverOptions,
    hint: np.ndarray | None = None,
) -> RawSolution:
    """Load and solve in one go; options.time_limit bounds both, and the reported seconds include both."""
    started = time.perf_counter()
    try:
        session = backend.prepare(model)
    except AllocateError:
        raise
    except Exception as exc:  # a solver library refusing the model: name the backend and the reason
        raise SolverError(f"backend {backend.name!r} could not load the model: {exc}") from exc
    left = options.left_since(started)
    if left is None:
        return out_of_time(backend.name, time.perf_counter() - started)
    raw = session.solve(objective, left, hint)
    return dataclasses.replace(raw, seconds=raw.seconds + session.build_seconds)


def out_of_time(backend: str, seconds: float) -> RawSolution:
    """The answer when the time limit ran out before the solver could start."""
    return RawSolution(
        status="no_solution",
        x=None,
        objective=None,
        bound=None,
        solver=backend,
        version="",
        seconds=seconds,
        message="time limit reached before the solver started (compiling and loading the model took it all)",
    )


def relative_gap(objective: float, bound: float) -> float:
    """(bound - objective) / max(|objective|, |bound|); 0 within 1e-6 (as `proven` counts it)."""
    if bound - objective <= 1e-6:
        return 0.0  # a value of 0 with a bound of 1e-12 is optimal, not a gap of 100%
    denom = max(abs(objective), abs(bound))
    return 0.0 if denom == 0 else max(0.0, bound - objective) / denom


def proven(objective: float | None, bound: float | None, options: SolverOptions) -> bool:
    """Whether the solver's own objective and bound prove optimality within the requested gap."""
    if objective is None or bound is None or not np.isfinite(bound):
        return False
    return relative_gap(objective, bound) <= options.relative_gap + 1e-9 or bound - objective <= 1e-6


_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_stdout = -1


@contextlib.contextmanager
def quiet_stdout(enabled: bool = True) -> Iterator[None]:
    """Silence C-level writes to stdout, for the rare call no solver option silences.

    File descriptor 1 belongs to the whole process, so this is safe under threads: the first
    block to enter points it at /dev/null, the last to leave restores it (a per-thread
    save and restore would interleave and could leave stdout at /dev/null for good). Output of
    other threads is silenced meanwhile, so keep these blocks short; prefer solver options.
    """
    global _quiet_depth, _saved_stdout
    if not enabled:
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            sys.stdout.flush()
            _saved_stdout = os.dup(1)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.close(null)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                os.dup2(_saved_stdout, 1)
                os.close(_saved_stdout)
