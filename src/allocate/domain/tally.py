"""Plain-Python accounting of a set of chosen candidates, straight from the Problem.

The verifier and every rule's `check` use this, never the compiled matrices, so that a
bug in the vectorised compile cannot hide itself. Money is summed as exact integers;
attributed (pro-rata) money is a float summed with `math.fsum`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from allocate.domain.parts import Round, Weights

if TYPE_CHECKING:
    from allocate.domain.candidates import Candidate

Dimension = Literal["district", "client_group", "cell", "tag"]
"""What money is counted by: districts and client groups (attributed pro rata), their cells,
or tags (of an application or its organisation: each tag counts the whole award)."""


def cell_key(district: str, client_group: str) -> str:
    """The key of a district × client-group cell, as used in rules and reports."""
    return f"{district}:{client_group}"


class Tally:
    """Totals of a chosen set of candidates: money, counts, attribution and value."""

    def __init__(self, problem: Round, chosen: Sequence[Candidate]) -> None:
        self.problem = problem
        self.chosen = tuple(chosen)
        self.total: int = sum(c.cost for c in self.chosen)
        self._basis = {
            d.id: (d.population if problem.attribution == "population" else d.need) for d in problem.districts
        }
        # Several rules read the same totals: each is summed once (copies are handed out).
        self._attributed: dict[Dimension, dict[str, float]] = {}
        self._serving: dict[Dimension, dict[str, int]] = {}

    def keys(self, over: Dimension) -> list[str]:
        districts = [d.id for d in self.problem.districts]
        groups = [g.id for g in self.problem.client_groups]
        if over == "district":
            return districts
        if over == "client_group":
            return groups
        if over == "tag":
            return list(self.problem.tags)
        return [cell_key(d, g) for d in districts for g in groups]

    def district_shares(self, c: Candidate) -> dict[str, float]:
        served = c.districts or tuple(self._basis)
        total = math.fsum(self._basis[d] for d in served)
        return {d: self._basis[d] / total for d in served}

    def shares(self, c: Candidate, over: Dimension) -> dict[str, float]:
        """How a candidate's money splits across the keys of a dimension (sums to 1; a tag is a
        fact about the whole award, so each of its tags counts all of it)."""
        if over == "tag":
            return dict.fromkeys(self.problem.tags_of(c.application), 1.0)
        groups = {g: 1.0 / len(c.client_groups) for g in c.client_groups}
        if over == "client_group":
            return groups
        districts = self.district_shares(c)
        if over == "district":
            return districts
        return {cell_key(d, g): wd * wg for d, wd in districts.items() for g, wg in groups.items()}

    def attributed(self, over: Dimension) -> dict[str, float]:
        """Money (pence) attributed to each key of a dimension."""
        if over not in self._attributed:
            self._attributed[over] = self._attribute(over)
        return dict(self._attributed[over])

    def _attribute(self, over: Dimension) -> dict[str, float]:
        parts: dict[str, list[float]] = {k: [] for k in self.keys(over)}
        for c in self.chosen:
            for k, w in self.shares(c, over).items():
                parts[k].append(c.cost * w)
        return {k: math.fsum(v) for k, v in parts.items()}

    def serving(self, over: Dimension) -> dict[str, int]:
        """Number of chosen awards serving each key (county-wide awards serve every district)."""
        if over not in self._serving:
            counts = dict.fromkeys(self.keys(over), 0)
            for c in self.chosen:
                for k in self.shares(c, over):
                    counts[k] += 1
            self._serving[over] = counts
        return dict(self._serving[over])

    def by_organisation(self) -> tuple[dict[str, int], dict[str, int]]:
        """(pence, number of awards) per organisation that has any application."""
        money: dict[str, int] = defaultdict(int)
        count: dict[str, int] = defaultdict(int)
        for app in self.problem.applications:
            money[app.organisation] += 0
            count[app.organisation] += 0
        for c in self.chosen:
            money[c.organisation] += c.cost
            count[c.organisation] += 1
        return dict(money), dict(count)

    def per_year(self) -> list[int]:
        years = self.problem.budget.years
        return [sum(c.profile[y] for c in self.chosen) for y in range(years)]


def candidate_value(problem: Round, c: Candidate, weights: Weights | None = None) -> tuple[float, float]:
    """(outcome part, social part) of a candidate's value under the given weights."""
    w = problem.weights if weights is None else weights
    scale = problem.scale
    omega = w.social_objective_weights or (1.0,) * len(problem.social_objectives)
    social = math.fsum(o * s for o, s in zip(omega, c.social_scores, strict=True)) / math.fsum(omega)
    if w.value_form == "quality_pounds":
        base = c.cost / 100
    elif w.value_form == "score_sum":
        base = 100.0
    else:
        base = float(c.beneficiaries or 0)
    share = w.social_value_share
    return (
        (1 - share) * c.outcome_score / scale.outcome_max * base,
        share * social / scale.social_max * base,
    )
