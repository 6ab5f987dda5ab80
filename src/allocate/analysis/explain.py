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
from dataclasses import dataclass

import numpy as np

from allocate.backends import DEFAULT_BACKEND, get_backend
from allocate.backends.lp import lp_duals
from allocate.compile import CompiledProblem, compile_problem
from allocate.model import Problem
from allocate.options import SolverOptions
from allocate.result import Allocation
from allocate.rules import PassMark
from allocate.summary import pounds


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


def explain(
    problem: Problem,
    allocation: Allocation,
    backend: str = DEFAULT_BACKEND,
    *,
    applications: list[str] | None = None,
    options: SolverOptions | None = None,
) -> Explanations:
    """Exact margins for each application (or those listed), plus LP shadow prices."""
    opts = SolverOptions() if options is None else options
    model = compile_problem(problem)
    outcome, social = model.objective(allocation.weights)
    objective = outcome + social
    session = get_backend(backend).prepare(model)
    chosen = {(a.application, a.variant) for a in allocation.awards}
    x_star = np.zeros(model.n_vars)
    for j, c in enumerate(model.candidates):
        x_star[j] = (c.application.id, c.variant_id) in chosen
    best = float(objective[: model.n] @ x_star[: model.n])
    wanted = applications if applications is not None else [a.id for a in problem.applications]
    by_app: dict[str, list[int]] = {}
    for j, c in enumerate(model.candidates):
        by_app.setdefault(c.application.id, []).append(j)
    items, solves = [], 0
    for app in wanted:
        options_j = by_app[app]
        funded = [j for j in options_j if x_star[j] > 0.5]
        if funded:
            j = funded[0]
            solves += 1
            raw = session.solve(objective, opts, fix=dict.fromkeys(options_j, 0))
            name = _option_name(model, j)
            if raw.x is None:
                items.append(
                    Explanation(
                        app,
                        True,
                        model.candidates[j].variant_id,
                        None,
                        None,
                        f"{app} was funded ({name}, {pounds(model.cost[j])}): no allocation meeting every rule leaves it out.",
                    )
                )
                continue
            margin = max(0.0, best - float(objective @ np.round(raw.x)))
            points = margin / _point_value(model, j, allocation)
            items.append(
                Explanation(
                    app,
                    True,
                    model.candidates[j].variant_id,
                    margin,
                    points,
                    f"{app} was funded ({name}, {pounds(model.cost[j])}). It would still have been funded had its "
                    f"value been up to {margin:,.2f} lower (about {points:.2f} outcome-score points).",
                )
            )
            continue
        marks = [r for r in problem.rules if isinstance(r, PassMark)]
        failing = [
            m
            for m in marks
            if all(
                m.fails(model.candidates[j].outcome_score, model.candidates[j].social_scores)
                for j in options_j
            )
        ]
        if failing:
            c = model.candidates[options_j[0]]
            items.append(
                Explanation(
                    app,
                    False,
                    None,
                    None,
                    None,
                    f"{app} was not funded: it scored {c.outcome_score:g} (outcome) and did not reach the pass mark "
                    f"({failing[0].min_outcome if failing[0].min_outcome is not None else failing[0].min_social:g}).",
                )
            )
            continue
        trials = []
        for j in options_j:
            solves += 1
            raw = session.solve(objective, opts, fix={j: 1})
            if raw.x is not None:
                trials.append((max(0.0, best - float(objective @ np.round(raw.x))), j))
        if not trials:
            items.append(
                Explanation(
                    app,
                    False,
                    None,
                    None,
                    None,
                    f"{app} was not funded: no allocation meeting every rule of the round can include it "
                    "(for example it fails the pass mark, or its cost breaks a budget or cap).",
                )
            )
            continue
        margin, j = min(trials)
        points = margin / _point_value(model, j, allocation)
        items.append(
            Explanation(
                app,
                False,
                model.candidates[j].variant_id,
                margin,
                points,
                f"{app} was not funded. It would have been funded ({_option_name(model, j)}, {pounds(model.cost[j])}) "
                f"had its value been more than {margin:,.2f} higher (about {points:.2f} outcome-score points).",
            )
        )
    return Explanations(allocation, tuple(items), shadow_prices(model, objective, allocation), solves)


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
