"""Explain every decision with exact re-solve margins, in words a feedback letter can use.

For a funded application: how much value it could lose before the best allocation would
drop it (re-solve with it excluded). For an unfunded one: how much more value it would need
to be funded (re-solve with each of its options forced in; the smallest gap wins). Margins
are exact for the solver's tolerance: funded iff its value rises by more than the margin
(at exactly the margin the two allocations tie). Margins are also given in outcome-score
points (value per point depends on the value form and the award's size). Shadow prices of
the rules come from the LP relaxation and are marked as approximate.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass

import numpy as np

from allocate.analysis.workers import Progress, chunks, executor_for, session, start_from, token
from allocate.domain.errors import InvalidProblemError
from allocate.domain.model import Problem
from allocate.domain.money import pounds
from allocate.domain.parts import Weights
from allocate.domain.rules import Lock, PassMark
from allocate.engine.backends import DEFAULT_BACKEND
from allocate.engine.backends.base import MarginCheck
from allocate.engine.backends.lp import lp_duals
from allocate.engine.compile import CompiledProblem, compile_problem
from allocate.engine.options import SolverOptions
from allocate.engine.result import Allocation


@dataclass(frozen=True)
class Explanation:
    """Why one application was, or was not, funded, and by how much."""

    application: str
    funded: bool
    option: str | None
    """The variant funded, or for an unfunded application the option closest to funding."""
    margin: float | None
    """Value margin; None when no allocation meeting every rule can include (or drop) it."""
    score_points: float | None
    """The margin in outcome-score points of that option."""
    text: str


@dataclass(frozen=True)
class Explanations:
    allocation: Allocation
    items: tuple[Explanation, ...]
    shadow_prices: dict[str, float]
    """LP-relaxation value of one more unit (pence or award) of each binding rule's limit."""
    solves: int

    def for_application(self, application: str) -> Explanation:
        return next(e for e in self.items if e.application == application)


def _point_value(model: CompiledProblem, j: int, allocation: Allocation) -> float:
    """Value of one outcome-score point for candidate j under the allocation's weights."""
    w = allocation.weights
    base = {"quality_pounds": model.cost[j] / 100, "score_sum": 100.0}.get(
        w.value_form, model.beneficiaries[j]
    )
    return float((1 - w.social_value_share) * base / model.problem.scale.outcome_max)


def _option_name(model: CompiledProblem, j: int) -> str:
    c = model.candidates[j]
    return "as submitted" if c.variant is None else f"as variant {c.variant.id}"


Task = tuple[dict[int, int], np.ndarray]
"""One re-solve of `explain`: the variables it pins, and the allocation it starts from."""


def _optima(
    key: str, problem: Problem, backend: str, options: SolverOptions, weights: Weights, tasks: list[Task]
) -> list[float | None]:
    """The optimal value of each pinned re-solve (None: no allocation meets every rule); a task."""
    model, loaded = session(key, problem, backend)
    outcome, social = model.objective(weights)
    objective = outcome + social
    known = _known(key)
    check = MarginCheck(model)
    out: list[float | None] = []
    for fix, hint in tasks:
        start = _best_start(check, known, objective, fix, hint)
        raw = loaded.solve(objective, options, hint=start, fix=fix)
        out.append(None if raw.x is None else float(objective @ np.round(raw.x)))
        if raw.x is not None and len(known) < _KNOWN:
            known.append(np.round(raw.x))
    return out


_KNOWN = 256
"""Allocations a worker keeps per round as starting points for explain's next re-solves."""

_known_local = threading.local()


def _known(key: str) -> list[np.ndarray]:
    """This thread's allocations found so far for a round (only ever used as starting points)."""
    store: dict[str, list[np.ndarray]] = getattr(_known_local, "store", {})
    found = store.get(key, [])
    _known_local.store = {key: found}  # keep one round: the one being explained
    return found


def _best_start(
    check: MarginCheck,
    known: list[np.ndarray],
    objective: np.ndarray,
    fix: dict[int, int],
    start: np.ndarray,
) -> np.ndarray:
    """The best known allocation that meets every row and the pins, else `start`.

    Margins are optimal values, which do not depend on where the search starts, so any
    feasible allocation found earlier (by this worker, for another application) may start it.
    """
    cols = np.fromiter(fix.keys(), dtype=np.int64)
    vals = np.fromiter(fix.values(), dtype=np.float64)
    best, best_value = start, -np.inf
    for x in known:
        if np.all(x[cols] == vals) and objective @ x > best_value and not check.broken(x):
            best, best_value = x, float(objective @ x)
    return best


def _locks(problem: Problem, app: str) -> list[Lock]:
    return [r for r in problem.rules if isinstance(r, Lock) and r.application == app]


def _failed_mark(marks: list[PassMark], model: CompiledProblem, options_j: list[int]) -> str | None:
    """Why every option of an application fails a pass mark, naming the mark it fails, or None."""
    for m in marks:
        if not all(
            m.fails(model.candidates[j].outcome_score, model.candidates[j].social_scores) for j in options_j
        ):
            continue
        c = model.candidates[options_j[0]]
        if m.min_outcome is not None and c.outcome_score < m.min_outcome:
            return f"it scored {c.outcome_score:g} on outcome, below the pass mark of {m.min_outcome:g}"
        mean = math.fsum(c.social_scores) / len(c.social_scores)
        return f"its social-capital scores average {mean:.2f}, below the social pass mark of {m.min_social:g}"
    return None


def explain(
    problem: Problem,
    allocation: Allocation,
    backend: str = DEFAULT_BACKEND,
    *,
    applications: list[str] | None = None,
    options: SolverOptions | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> Explanations:
    """Exact margins for each application (or those listed), plus LP shadow prices.

    Each margin is one exact re-solve (the application left out, or one of its options pinned
    in), started from the allocation with that change made. The re-solves are independent:
    they are split into tasks for `executor` (default: a pool of threads on rounds of 50 or more
    candidate awards, else this process); the result does not depend on the executor.
    ``progress(done, total)`` is called as re-solves finish.
    """
    opts = SolverOptions() if options is None else options
    model = compile_problem(problem)
    outcome, social = model.objective(allocation.weights)
    objective = outcome + social
    chosen = {(a.application, a.variant) for a in allocation.awards}
    x_star = np.zeros(model.n_vars)
    for j, c in enumerate(model.candidates):
        x_star[j] = (c.application.id, c.variant_id) in chosen
    best = float(objective[: model.n] @ x_star[: model.n])
    wanted = applications if applications is not None else [a.id for a in problem.applications]
    known = {a.id for a in problem.applications}
    for k, app_id in enumerate(wanted):
        if app_id not in known:
            raise InvalidProblemError(("explain", "applications", k), f"unknown application {app_id!r}")
    by_app: dict[str, list[int]] = {}
    for j, c in enumerate(model.candidates):
        by_app.setdefault(c.application.id, []).append(j)
    marks = [r for r in problem.rules if isinstance(r, PassMark)]
    # First pass: what needs no re-solve, and the re-solves the rest need.
    fixed: dict[str, Explanation] = {}
    tasks: list[Task] = []
    asked: dict[str, list[tuple[int, int]]] = {}  # app -> (candidate, task index)
    for app in wanted:
        options_j = by_app[app]
        funded = [j for j in options_j if x_star[j] > 0.5]
        locked = [r for r in _locks(problem, app) if r.fund == bool(funded)]
        if funded and locked:
            j = funded[0]
            fixed[app] = Explanation(
                app,
                True,
                model.candidates[j].variant_id,
                None,
                None,
                f"{app} was funded ({_option_name(model, j)}, {pounds(model.cost[j])}) because the round "
                f"locks it in ({locked[0].label}).",
            )
            continue
        if funded:
            hint = x_star.copy()
            hint[options_j] = 0.0
            asked[app] = [(funded[0], len(tasks))]
            tasks.append((dict.fromkeys(options_j, 0), start_from(model, hint)))
            continue
        if locked:
            fixed[app] = Explanation(
                app,
                False,
                None,
                None,
                None,
                f"{app} was not funded: the round locks it out ({locked[0].label}).",
            )
            continue
        failing = _failed_mark(marks, model, options_j)
        if failing is not None:
            fixed[app] = Explanation(app, False, None, None, None, f"{app} was not funded: {failing}.")
            continue
        asked[app] = []
        for j in options_j:
            hint = x_star.copy()
            hint[options_j] = 0.0
            hint[j] = 1.0
            asked[app].append((j, len(tasks)))
            tasks.append(({j: 1}, start_from(model, hint)))
    values = _run(problem, backend, opts, allocation.weights, tasks, model.n, executor, progress)
    items = []
    for app in wanted:
        if app in fixed:
            items.append(fixed[app])
            continue
        trials = [(best - v, j) for j, t in asked[app] if (v := values[t]) is not None]
        funded_now = bool(asked[app]) and x_star[asked[app][0][0]] > 0.5
        if funded_now:
            items.append(_funded(model, app, asked[app][0][0], trials, allocation))
        else:
            items.append(_unfunded(model, app, trials, allocation))
    return Explanations(allocation, tuple(items), shadow_prices(model, objective, allocation), len(tasks))


def _run(
    problem: Problem,
    backend: str,
    opts: SolverOptions,
    weights: Weights,
    tasks: list[Task],
    candidates: int,
    executor: Executor | None,
    progress: Progress | None,
) -> list[float | None]:
    """Every re-solve's optimal value, in task order, fanned out in contiguous batches."""
    if not tasks:
        return []
    key = token(problem)
    with executor_for(executor, len(tasks), candidates, "explain") as pool:
        batches = chunks(tasks, len(tasks))  # one re-solve per task: the finest balance, live progress
        futures = [pool.submit(_optima, key, problem, backend, opts, weights, b) for b in batches]
        done = 0
        results: dict[int, list[float | None]] = {}
        position = {f: i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            results[position[fut]] = fut.result()
            done += len(results[position[fut]])
            if progress is not None:
                progress(done, len(tasks))
    return [v for i in range(len(futures)) for v in results[i]]


def _funded(
    model: CompiledProblem, app: str, j: int, trials: list[tuple[float, int]], allocation: Allocation
) -> Explanation:
    name = _option_name(model, j)
    variant = model.candidates[j].variant_id
    if not trials:
        return Explanation(
            app,
            True,
            variant,
            None,
            None,
            f"{app} was funded ({name}, {pounds(model.cost[j])}): no allocation meeting every rule leaves it out.",
        )
    margin = max(0.0, trials[0][0])
    points = margin / _point_value(model, j, allocation)
    if points > model.candidates[j].outcome_score:
        size = "a fall that cannot be reached on score alone"
    else:
        size = f"about {points:.2f} outcome-score points"
    return Explanation(
        app,
        True,
        variant,
        margin,
        points,
        f"{app} was funded ({name}, {pounds(model.cost[j])}). It would still have been funded had its "
        f"value been up to {margin:,.2f} lower ({size}).",
    )


def _unfunded(
    model: CompiledProblem, app: str, trials: list[tuple[float, int]], allocation: Allocation
) -> Explanation:
    if not trials:
        return Explanation(
            app,
            False,
            None,
            None,
            None,
            f"{app} was not funded: no allocation meeting every rule of the round can include it "
            "(for example its cost breaks a budget or cap).",
        )
    gap, j = min(trials)
    margin = max(0.0, gap)
    points = margin / _point_value(model, j, allocation)
    room = model.problem.scale.outcome_max - model.candidates[j].outcome_score
    if points > room:
        size = "which cannot be reached on score alone"
    else:
        size = f"about {points:.2f} outcome-score points"
    return Explanation(
        app,
        False,
        model.candidates[j].variant_id,
        margin,
        points,
        f"{app} was not funded. It would have been funded ({_option_name(model, j)}, {pounds(model.cost[j])}) "
        f"had its value been more than {margin:,.2f} higher ({size}).",
    )


def shadow_prices(model: CompiledProblem, objective: np.ndarray, allocation: Allocation) -> dict[str, float]:
    """Duals of the LP relaxation (backends.lp) for the rows that bind in the allocation."""
    duals = lp_duals(model, objective)
    if duals is None:
        return {}
    binding = {r.label for r in allocation.rules_report if r.binding}
    rows = zip(model.row_labels, duals, model.row_structural, strict=True)
    return {
        label: float(abs(d))
        for label, d, structural in rows
        if not structural and label in binding and math.isfinite(d) and abs(d) > 1e-12
    }
