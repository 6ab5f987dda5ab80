"""The status quo baseline: rank applications by panel score and fund down the list.

Pass mark, total and yearly budgets and a ring-fenced pot are respected; every other rule
(coverage, equality gaps, no new gaps, caps) is ignored, as in a plain ranked list. Its
answer is judged by `allocate.verify` like any other, so the rules it breaks are visible.
"""

from __future__ import annotations

from allocate.domain.candidates import candidates
from allocate.domain.model import Problem
from allocate.domain.rules import PassMark, Pot


def rank_and_fund(problem: Problem) -> list[tuple[str, str | None]]:
    """Rank by outcome score, fund down the list while the budget (and pot) allow."""
    passmark = next((r for r in problem.rules if isinstance(r, PassMark)), None)
    pot = next((r for r in problem.rules if isinstance(r, Pot)), None)
    cands = [c for c in candidates(problem) if c.variant is None]
    cands.sort(key=lambda c: (-c.outcome_score, c.application.id))
    years = list(problem.budget.per_year or (problem.budget.total,))
    spent_total, spent_years, spent_pot, spent_main = 0, [0] * len(years), 0, 0
    chosen: list[tuple[str, str | None]] = []
    for c in cands:
        if passmark is not None and passmark.fails(c.outcome_score, c.social_scores):
            continue
        profile = c.profile if problem.budget.per_year else (c.cost,)
        if spent_total + c.cost > problem.budget.total:
            continue
        if any(s + p > limit for s, p, limit in zip(spent_years, profile, years, strict=True)):
            continue
        in_pot = pot is not None and max(c.profile) <= pot.max_per_year
        if pot is not None and in_pot and spent_pot + c.cost > pot.amount:
            continue
        if (
            pot is not None
            and pot.ring_fenced
            and not in_pot
            and spent_main + c.cost > problem.budget.total - pot.amount
        ):
            continue
        chosen.append((c.application.id, None))
        spent_total += c.cost
        spent_years = [s + p for s, p in zip(spent_years, profile, strict=True)]
        if in_pot:
            spent_pot += c.cost
        else:
            spent_main += c.cost
    return chosen
