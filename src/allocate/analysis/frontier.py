"""The weight frontier: every distinct optimal allocation as the social value share goes 0 → 1.

Value at share w is (1 − w)·O(x) + w·S(x), with O the outcome value and S the social value of
an allocation at full weight. The allocations optimal for some w are the supported points of
the (O, S) trade-off; dichotomic (Aneja–Nair) search finds all of them exactly, with the
interval of w where each is optimal, in about two solves per point, re-solving one loaded
model with new objectives. The ε-constraint method (max O subject to S ≥ ε) also finds the
unsupported trade-off points that no weighting selects.
"""

from __future__ import annotations

import dataclasses
import numbers
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from typing import Literal

import numpy as np

from allocate.analysis.workers import Progress, executor_for, session, token
from allocate.domain.errors import InfeasibleError, InvalidProblemError, SolverError
from allocate.domain.model import Problem
from allocate.domain.parts import as_weights
from allocate.engine.backends import DEFAULT_BACKEND, get_backend
from allocate.engine.backends.base import Backend, RawSolution, solve_once
from allocate.engine.compile import CompiledProblem, compile_problem
from allocate.engine.finish import finish
from allocate.engine.options import SolverOptions
from allocate.engine.result import Allocation

REL_TOL = 1e-9


@dataclass(frozen=True)
class FrontierPoint:
    """One distinct allocation with its trade-off point and its optimal weight interval."""

    allocation: Allocation
    outcome: float
    """O: outcome value at full weight (w = 0)."""
    social: float
    """S: social value at full weight (w = 1)."""
    share_low: float | None
    share_high: float | None
    """Social value shares where this allocation is optimal (None for ε-constraint points
    that no weighting selects)."""


@dataclass(frozen=True)
class Frontier:
    points: tuple[FrontierPoint, ...]
    solves: int

    @property
    def breakpoints(self) -> tuple[float, ...]:
        """Shares where the optimal allocation changes."""
        return tuple(p.share_low for p in self.points[1:] if p.share_low is not None)


class _Search:
    """One problem's outcome and social value vectors, and the solves made so far."""

    def __init__(self, problem: Problem, backend: str, options: SolverOptions) -> None:
        self.problem, self.backend, self.options = problem, backend, options
        self.model = compile_problem(problem)
        self.engine = get_backend(backend)
        self.outcome, self.social = _parts(self.model)
        self.solves = 0

    def point(
        self, raw: RawSolution, share: float | None, lo: float | None, hi: float | None
    ) -> FrontierPoint:
        x = _values(raw, self.backend, "a frontier point")
        weights = self.problem.weights if share is None else as_weights(self.problem, share)
        # The solver's bound belongs to the objective it was given, not to these weights.
        alloc = finish(
            self.problem,
            self.model,
            dataclasses.replace(raw, bound=None),
            weights,
            self.backend,
            self.options,
        )
        return FrontierPoint(alloc, float(self.outcome @ x), float(self.social @ x), lo, hi)

    def lexicographic(self, first: np.ndarray, second: np.ndarray) -> RawSolution:
        self.solves += 2
        return _lexicographic(self.engine, self.model, first, second, self.options)


def _parts(model: CompiledProblem) -> tuple[np.ndarray, np.ndarray]:
    """(O, S): each variable's outcome value at share 0 and social value at share 1."""
    w = model.problem.weights
    outcome, _ = model.objective(w.model_copy(update={"social_value_share": 0.0}))
    _, social = model.objective(w.model_copy(update={"social_value_share": 1.0}))
    return outcome, social


def _lexicographic(
    engine: Backend, model: CompiledProblem, first: np.ndarray, second: np.ndarray, options: SolverOptions
) -> RawSolution:
    """Best on `first`, ties broken by `second`, so the extreme point is non-dominated."""
    raw = solve_once(engine, model, first, options)
    if raw.x is None:
        raise InfeasibleError("the problem has no allocation; run diagnose() first")
    best = float(first @ np.round(raw.x))
    tied = model.with_row(first, best - _slack(best), np.inf, "Frontier[tie]", unit="value")
    raw2 = solve_once(engine, tied, second, options, hint=np.round(raw.x))
    return raw2 if raw2.x is not None else raw


def _end(key: str, problem: Problem, backend: str, options: SolverOptions, social_first: bool) -> RawSolution:
    """One end of the frontier (a task): best outcome then social, or best social then outcome."""
    model, _ = session(key, problem, backend)
    outcome, social = _parts(model)
    first, second = (social, outcome) if social_first else (outcome, social)
    return _lexicographic(get_backend(backend), model, first, second, options)


def _probe(
    key: str, problem: Problem, backend: str, options: SolverOptions, w: float, start: np.ndarray
) -> RawSolution:
    """The optimum at share `w` (a task), started from `start` (one of the two tied neighbours)."""
    model, loaded = session(key, problem, backend)
    outcome, social = _parts(model)
    return loaded.solve((1 - w) * outcome + w * social, options, hint=start)


def _slack(value: float) -> float:
    return REL_TOL * max(1.0, abs(value))


def _values(raw: RawSolution, backend: str, what: str) -> np.ndarray:
    """The rounded allocation of a solve that must have one (the search only asks such questions)."""
    if raw.x is None:
        raise SolverError(
            f"backend {backend!r} stopped ({raw.status}) before finding {what}; "
            "allow more time (time_limit) or use another backend"
        )
    return np.asarray(np.round(raw.x))


def frontier(
    problem: Problem,
    backend: str = DEFAULT_BACKEND,
    *,
    options: SolverOptions | None = None,
    method: Literal["weights", "epsilon"] = "weights",
    steps: int = 10,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> Frontier:
    """All distinct optimal allocations over social value shares 0..1 (``method="weights"``),
    or up to ``steps`` ε-constraint points (``method="epsilon"``), from outcome to social.

    The search's sub-intervals are independent solves, submitted to `executor` as they appear
    (default: a pool of threads on rounds of 50 or more candidate awards, else this process); the
    result does not depend on the executor. `progress(done, total)` is called after each solve.
    """
    if method not in ("weights", "epsilon"):
        raise InvalidProblemError(("frontier", "method"), f"must be 'weights' or 'epsilon', not {method!r}")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 2:
        raise InvalidProblemError(("frontier", "steps"), f"must be a whole number >= 2, not {steps!r}")
    search = _Search(problem, backend, SolverOptions() if options is None else options)
    if method == "epsilon":
        return _epsilon(search, steps, progress)
    O_, S_ = search.outcome, search.social
    key = token(problem)
    args = (key, problem, backend, search.options)
    with executor_for(executor, 4, search.model.n, "frontier") as pool:
        ends = [pool.submit(_end, *args, social_first) for social_first in (False, True)]
        ra, rb = (f.result() for f in ends)
        search.solves += 4
        if progress is not None:
            progress(4, 4)
        xa, xb = _values(ra, backend, "the best outcome"), _values(rb, backend, "the best social value")
        found: dict[bytes, tuple[RawSolution, float]] = {xa.tobytes(): (ra, 0.0), xb.tobytes(): (rb, 1.0)}
        breaks: list[tuple[float, bytes]] = []
        pending: dict[Future[RawSolution], tuple[np.ndarray, np.ndarray, float]] = {}

        def between(xl: np.ndarray, xr: np.ndarray) -> None:
            dO, dS = O_ @ xl - O_ @ xr, S_ @ xr - S_ @ xl
            if dO <= _slack(O_ @ xl) or dS <= _slack(S_ @ xr):
                return
            w = float(dO / (dO + dS))
            pending[pool.submit(_probe, *args, w, xl)] = (xl, xr, w)

        if xa.tobytes() != xb.tobytes():
            between(xa, xb)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            # Handle finished probes in the order they were submitted: the same breaks and points
            # whatever order the workers finish in.
            for fut in [f for f in pending if f in done]:
                xl, xr, w = pending.pop(fut)
                raw = fut.result()
                search.solves += 1
                xc = _values(raw, backend, f"an allocation at social value share {w:.6g}")
                obj = (1 - w) * O_ + w * S_
                if obj @ xc > obj @ xl + _slack(obj @ xl):
                    found[xc.tobytes()] = (raw, w)
                    between(xl, xc)
                    between(xc, xr)
                else:
                    breaks.append((w, xr.tobytes()))
            if progress is not None:
                progress(search.solves, search.solves + len(pending))
    breaks.sort()
    order = [xa.tobytes()] + [key for _, key in breaks]
    lows = [0.0] + [w for w, _ in breaks]
    highs = [w for w, _ in breaks] + [1.0]
    points = []
    for key_, lo, hi in zip(order, lows, highs, strict=True):
        raw, _ = found[key_]
        points.append(search.point(raw, (lo + hi) / 2, lo, hi))
    return Frontier(tuple(points), search.solves)


def _epsilon(search: _Search, steps: int, progress: Progress | None) -> Frontier:
    O_, S_ = search.outcome, search.social
    ra = search.lexicographic(O_, S_)
    rb = search.lexicographic(S_, O_)
    backend = search.backend
    lo = float(S_ @ _values(ra, backend, "the best outcome"))
    hi = float(S_ @ _values(rb, backend, "the best social value"))
    seen: dict[bytes, FrontierPoint] = {}
    for eps in np.linspace(lo, hi, max(2, steps)):
        m = search.model.with_row(S_, eps - _slack(eps), np.inf, "Frontier[epsilon]", unit="value")
        search.solves += 1
        raw = solve_once(search.engine, m, O_, search.options)
        if raw.x is not None and np.round(raw.x).tobytes() not in seen:
            seen[np.round(raw.x).tobytes()] = search.point(raw, None, None, None)
        if progress is not None:
            progress(search.solves, 4 + max(2, steps))
    points = sorted(seen.values(), key=lambda p: (-p.outcome, p.social))
    return Frontier(tuple(points), search.solves)
