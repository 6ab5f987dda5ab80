"""Which allocation is optimal at each social value share of a fine grid, read off the exact frontier.

The frontier gives every distinct optimal allocation and the interval of shares where it is
optimal. A share grid (0, 1/steps, ..., 1) is mapped to those allocations by their value at
each share. Where two allocations tie, or come within `TIE_MARGIN` of a tie (a grid share on
or next to a breakpoint, where a solver's tolerance could pick either; the margin `sweep` uses
when it reads shares off the frontier), and at the two ends (where allocations equal on the
one side that counts tie), the grid share is not decided from the frontier: `solve` is called
at that share and its answer is what the map holds. So the map agrees with
``solve(problem, weights=...)`` at every grid share: by construction at the ambiguous ones,
and by the frontier's exactness elsewhere (an allocation strictly inside its interval is the
only optimal (outcome, social) point there).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass

from allocate.analysis.frontier import Frontier, frontier
from allocate.analysis.whatif import TIE_MARGIN
from allocate.analysis.workers import Progress, executor_for
from allocate.domain.candidates import Candidate, candidates
from allocate.domain.errors import InvalidProblemError, SolverError
from allocate.domain.model import Problem
from allocate.domain.parts import as_weights
from allocate.domain.tally import candidate_value
from allocate.engine.backends import DEFAULT_BACKEND
from allocate.engine.options import SolverOptions
from allocate.engine.result import Allocation
from allocate.engine.solve import solve
from allocate.engine.verify import resolve

Key = frozenset[tuple[str, str | None]]
"""An allocation's identity: its (application, variant) awards."""


def award_key(allocation: Allocation) -> Key:
    return frozenset((a.application, a.variant) for a in allocation.awards)


@dataclass(frozen=True)
class State:
    """One allocation the map shows: from the frontier, or `solve`'s pick at a tie."""

    allocation: Allocation
    chosen: tuple[Candidate, ...]
    outcome: float
    """Outcome value at full weight (share 0), as the verifier sums it."""
    social: float
    """Social value at full weight (share 1)."""
    point: int | None
    """Index into the frontier's points; None for an allocation only `solve` picked at a tie."""

    def value_at(self, share: float, problem: Problem) -> tuple[float, float]:
        """(outcome part, social part) of the value at this share, summed as the verifier does."""
        w = as_weights(problem, share)
        parts = [candidate_value(problem, c, w) for c in self.chosen]
        return math.fsum(p[0] for p in parts), math.fsum(p[1] for p in parts)


@dataclass(frozen=True)
class Change:
    """The next change of the optimal allocation as the share moves one way."""

    share: float
    """The breakpoint where the change happens."""
    to: int
    """The state optimal beyond it."""


States = tuple[State, ...]
"""The distinct optimal allocations met on the grid, in order of share."""


@dataclass(frozen=True)
class ShareMap:
    """The optimal allocation at each share k/steps, k = 0..steps."""

    frontier: Frontier
    steps: int
    states: States
    state_at: tuple[int, ...]
    """Per grid share, the index of its state."""
    solved: tuple[int, ...]
    """Grid positions k where `solve` was called and its answer taken."""
    up: tuple[Change | None, ...]
    """Per state, the change at the next breakpoint above (None: optimal up to 100%)."""
    down: tuple[Change | None, ...]
    """Per state, the change at the next breakpoint below (None: optimal down to 0%)."""

    def share(self, k: int) -> float:
        """The social value share of grid position k."""
        return k / self.steps


def _state(problem: Problem, allocation: Allocation, point: int | None) -> State:
    if allocation.status != "optimal" or not allocation.verified:
        raise SolverError(
            f"an allocation on the frontier is {allocation.status} (verified: {allocation.verified}), "
            "not a verified optimum; allow more time (time_limit) or use another backend"
        )
    chosen, unknown = resolve(problem, sorted(award_key(allocation), key=lambda k: (k[0], k[1] or "")))
    if unknown:
        raise InvalidProblemError(("frontier",), f"is not a frontier of this problem: {unknown[0]}")
    zero, one = as_weights(problem, 0.0), as_weights(problem, 1.0)
    outcome = math.fsum(candidate_value(problem, c, zero)[0] for c in chosen)
    social = math.fsum(candidate_value(problem, c, one)[1] for c in chosen)
    return State(allocation, tuple(chosen), outcome, social, point)


def _tied(values: Sequence[float]) -> list[int]:
    """Indices within TIE_MARGIN of the best value."""
    best = max(values)
    return [i for i, v in enumerate(values) if v >= best - TIE_MARGIN * max(1.0, abs(best))]


def _solve_at(problem: Problem, backend: str, share: float, options: SolverOptions) -> Allocation:
    """What ``solve`` returns at this share (a task: picklable, compiles in the worker)."""
    return solve(problem, backend, weights=as_weights(problem, share), options=options)


def share_map(
    problem: Problem,
    front: Frontier | None = None,
    backend: str = DEFAULT_BACKEND,
    *,
    steps: int = 1000,
    options: SolverOptions | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> ShareMap:
    """Map every share k/steps to its optimal allocation (see the module docstring).

    `front` is ``frontier(problem, backend)`` (computed here when None); it must come from
    ``method="weights"``. The frontier and the solves at ties go through `executor` (default:
    a pool of threads on large rounds, else one task after another). Raises SolverError if `solve`
    and the frontier disagree on a value. ``progress(done, total)`` counts the frontier's solves,
    then the solves at ties.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or not 2 <= steps <= 100_000:
        raise InvalidProblemError(("steps",), f"must be an integer from 2 to 100000, got {steps!r}")
    opts = SolverOptions() if options is None else options
    if opts.relative_gap > 0:
        raise InvalidProblemError(
            ("options", "relative_gap"), "must be 0: the page shows exact optima read off the frontier"
        )
    found = 0

    def on_frontier(done: int, total: int) -> None:
        nonlocal found
        found = total
        if progress is not None:
            progress(done, total + 1)  # the solves at ties are still to come

    f = (
        frontier(problem, backend, options=opts, executor=executor, progress=on_frontier)
        if front is None
        else front
    )
    if not f.points or any(p.share_low is None or p.share_high is None for p in f.points):
        raise InvalidProblemError(
            ("frontier",), "must be a weight frontier (method='weights') with at least one point"
        )
    if any(p.allocation.status != "optimal" for p in f.points):
        raise SolverError(
            "the frontier has a point not proven optimal (a time limit?): its intervals prove nothing; "
            "solve it again without a time limit"
        )
    states = [_state(problem, p.allocation, i) for i, p in enumerate(f.points)]
    index = {award_key(s.allocation): i for i, s in enumerate(states)}
    state_at: list[int] = []
    todo: dict[int, tuple[list[int], float]] = {}
    for k in range(steps + 1):
        s = k / steps
        values = [(1 - s) * p.outcome + s * p.social for p in states]
        tied = _tied(values)
        state_at.append(tied[0])
        if len(tied) > 1 or k in (0, steps):
            todo[k] = (tied, max(values))
    with executor_for(executor, len(todo), len(candidates(problem)), "what-if page") as pool:
        futures = [pool.submit(_solve_at, problem, backend, k / steps, opts) for k in todo]
        for done, _ in enumerate(as_completed(futures), start=1):
            if progress is not None:
                progress(found + done, found + len(futures))
        answers = [fut.result() for fut in futures]
    ties: dict[int, tuple[int, list[int]]] = {}
    for (k, (tied, best)), a in zip(todo.items(), answers, strict=True):
        if a.status != "optimal" or abs(a.value - best) > TIE_MARGIN * max(1.0, abs(best)):
            raise SolverError(
                f"solve at social value share {k / steps:.6g} gives {a.status} value {a.value!r}; "
                f"the frontier gives {best!r}"
            )
        key = award_key(a)
        if key not in index:
            index[key] = len(states)
            states.append(_state(problem, a, None))
        state_at[k] = index[key]
        ties.setdefault(index[key], (k, tied))
    up, down = _changes(f, states, ties, steps)
    return ShareMap(f, steps, tuple(states), tuple(state_at), tuple(todo), up, down)


def _changes(
    f: Frontier, states: Sequence[State], ties: dict[int, tuple[int, list[int]]], steps: int
) -> tuple[tuple[Change | None, ...], tuple[Change | None, ...]]:
    """Per state, the neighbouring frontier allocation above and below, and the breakpoint."""
    points = f.points
    up: list[Change | None] = []
    down: list[Change | None] = []
    for s in states:
        if s.point is not None:
            j = s.point
            lo, hi = points[j].share_low, points[j].share_high
            assert lo is not None and hi is not None
            up.append(Change(hi, j + 1) if j + 1 < len(points) else None)
            down.append(Change(lo, j - 1) if j > 0 else None)
    for i in range(len(up), len(states)):
        # solve's own pick at a tie: on either side of it, the tied frontier allocations take over.
        k, tied = ties[i]
        above, below = points[max(tied)].share_low, points[min(tied)].share_high
        assert above is not None and below is not None
        up.append(Change(above, max(tied)) if k < steps else None)
        down.append(Change(below, min(tied)) if k > 0 else None)
    return tuple(up), tuple(down)
