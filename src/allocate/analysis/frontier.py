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
from dataclasses import dataclass
from typing import Literal

import numpy as np

from allocate.analysis.whatif import as_weights
from allocate.backends import DEFAULT_BACKEND, get_backend
from allocate.backends.base import RawSolution, solve_once
from allocate.compile import compile_problem
from allocate.errors import InfeasibleError, SolverError
from allocate.finish import finish
from allocate.model import Problem
from allocate.options import SolverOptions
from allocate.result import Allocation

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
        w = problem.weights
        self.outcome, _ = self.model.objective(w.model_copy(update={"social_value_share": 0.0}))
        _, self.social = self.model.objective(w.model_copy(update={"social_value_share": 1.0}))
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
        """Best on `first`, ties broken by `second`, so the extreme point is non-dominated."""
        self.solves += 2
        raw = solve_once(self.engine, self.model, first, self.options)
        if raw.x is None:
            raise InfeasibleError("the problem has no allocation; run diagnose() first")
        best = float(first @ np.round(raw.x))
        tied = self.model.with_row(first, best - _slack(best), np.inf, "Frontier[tie]", unit="value")
        raw2 = solve_once(self.engine, tied, second, self.options, hint=np.round(raw.x))
        return raw2 if raw2.x is not None else raw


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
) -> Frontier:
    """All distinct optimal allocations over social value shares 0..1 (``method="weights"``),
    or up to ``steps`` ε-constraint points (``method="epsilon"``), from outcome to social."""
    search = _Search(problem, backend, SolverOptions() if options is None else options)
    if method == "epsilon":
        return _epsilon(search, steps)
    O_, S_ = search.outcome, search.social
    ra = search.lexicographic(O_, S_)
    rb = search.lexicographic(S_, O_)
    xa, xb = _values(ra, backend, "the best outcome"), _values(rb, backend, "the best social value")
    session = search.engine.prepare(search.model)
    found: dict[bytes, tuple[RawSolution, float]] = {xa.tobytes(): (ra, 0.0), xb.tobytes(): (rb, 1.0)}
    breaks: list[tuple[float, bytes]] = []

    def between(xl: np.ndarray, xr: np.ndarray) -> None:
        dO, dS = O_ @ xl - O_ @ xr, S_ @ xr - S_ @ xl
        if dO <= _slack(O_ @ xl) or dS <= _slack(S_ @ xr):
            return
        w = float(dO / (dO + dS))
        obj = (1 - w) * O_ + w * S_
        search.solves += 1
        raw = session.solve(obj, search.options, hint=xl)
        xc = _values(raw, backend, f"an allocation at social value share {w:.6g}")
        if obj @ xc > obj @ xl + _slack(obj @ xl):
            found[xc.tobytes()] = (raw, w)
            between(xl, xc)
            between(xc, xr)
        else:
            breaks.append((w, xr.tobytes()))

    if xa.tobytes() != xb.tobytes():
        between(xa, xb)
    breaks.sort()
    order = [xa.tobytes()] + [key for _, key in breaks]
    lows = [0.0] + [w for w, _ in breaks]
    highs = [w for w, _ in breaks] + [1.0]
    points = []
    for key, lo, hi in zip(order, lows, highs, strict=True):
        raw, _ = found[key]
        points.append(search.point(raw, (lo + hi) / 2, lo, hi))
    return Frontier(tuple(points), search.solves)


def _epsilon(search: _Search, steps: int) -> Frontier:
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
    points = sorted(seen.values(), key=lambda p: (-p.outcome, p.social))
    return Frontier(tuple(points), search.solves)
