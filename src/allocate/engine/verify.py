"""The independent verifier: checks an allocation against the Problem as the user stated it.

It reads the Problem's applications and rules directly (never the compiled matrices),
sums money as exact integers and recomputes value. Attributed money (pro-rata shares of
multi-district awards, shares of the total) is fractional by nature: those checks allow
`tolerance` pence, by default `TOLERANCE`: the model's own margin on such rows
(`compile.FRACTION_MARGIN`, a thousandth of a penny) again, for the solvers' feasibility
tolerance and floating-point sums. A looser check (it was one penny) let a solver's integrality
tolerance buy a third of a penny past a limit, and so a value above the true optimum.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from allocate.domain import commitments
from allocate.domain.candidates import Candidate, options
from allocate.domain.model import Problem
from allocate.domain.money import amount
from allocate.domain.parts import Weights
from allocate.domain.rules import RuleCheck, budget_label, variants_label
from allocate.domain.tally import Tally, candidate_value
from allocate.engine.compile import FRACTION_MARGIN

TOLERANCE = 2 * FRACTION_MARGIN


@dataclass(frozen=True)
class Verification:
    """The verifier's verdict, every rule row it checked, and the recomputed totals."""

    ok: bool
    checks: tuple[RuleCheck, ...]
    violations: tuple[str, ...]
    total: int
    value_outcome: float
    value_social: float

    @property
    def value(self) -> float:
        return self.value_outcome + self.value_social


def resolve(problem: Problem, chosen: Iterable[tuple[str, str | None]]) -> tuple[list[Candidate], list[str]]:
    """Map (application id, variant id or None) pairs to candidates; unknown ones are problems.

    Only the named applications' candidates are made (a national round has 173,000 others).
    """
    chosen = list(chosen)
    wanted = {app for app, _ in chosen}
    years = problem.budget.years
    by_key: dict[tuple[str, str | None], Candidate] = {}
    position = 0
    for application in problem.applications:
        if application.id in wanted:
            by_key.update(((application.id, c.variant_id), c) for c in options(application, years, position))
        position += 1 + len(application.variants)
    found, problems = [], []
    for app, var in chosen:
        c = by_key.get((app, var))
        if c is None:
            problems.append(f"unknown award {app!r} variant {var!r}")
        else:
            found.append(c)
    return found, problems


def verify(
    problem: Problem,
    chosen: Iterable[tuple[str, str | None]],
    *,
    weights: Weights | None = None,
    tolerance: float = TOLERANCE,
) -> Verification:
    """Check chosen awards against budget, variants and every rule of the problem."""
    found, problems = resolve(problem, chosen)
    tally = Tally(problem, found)
    budget = problem.budget
    # Money committed by earlier rounds is spent from the same budget (achieved includes it).
    committed = commitments.per_year(problem)
    checks = [RuleCheck(budget_label(), "<=", tally.total + sum(committed), budget.total)]
    if budget.per_year is not None:
        for y, (spent, limit) in enumerate(zip(tally.per_year(), budget.per_year, strict=True)):
            checks.append(RuleCheck(budget_label(y + 1), "<=", spent + committed[y], limit))
    for app, n in Counter(c.application.id for c in found).items():
        if n > 1:
            checks.append(RuleCheck(variants_label(app), "<=", n, 1, unit="awards"))
    for rule in problem.rules:
        checks.extend(rule.check(tally, tolerance))
    problems.extend(
        f"{c.label}: {amount(c.achieved, c.unit)} {'>' if c.sense == '<=' else '<'} limit {amount(c.limit, c.unit)}"
        for c in checks
        if not c.ok
    )
    parts = [candidate_value(problem, c, weights) for c in found]
    return Verification(
        ok=not problems,
        checks=tuple(checks),
        violations=tuple(problems),
        total=tally.total,
        value_outcome=math.fsum(p[0] for p in parts),
        value_social=math.fsum(p[1] for p in parts),
    )
