"""Baselines that allocate is measured against, written the way people write them today.

* `hand_pulp`: the PuLP/CBC model an analyst would write by hand for the same rules, with
  Python loops over applications and rules and `lpSum` expressions.
* `greedy`: the status quo: rank applications by panel score and fund down the list while
  the money lasts (pass mark respected, negotiated variants ignored).

Both return the chosen (application id, variant id) pairs so that `allocate.verify` can
judge them against the same rules.
"""

from __future__ import annotations

import time

import pulp

from allocate import (
    Coverage,
    EqualityGap,
    MinOrganisations,
    NoNewGaps,
    OrganisationCap,
    PassMark,
    Pot,
    Problem,
)
from allocate.domain.candidates import candidates
from allocate.domain.tally import Tally, candidate_value
from allocate.engine.greedy import rank_and_fund

Chosen = list[tuple[str, str | None]]


def hand_pulp(problem: Problem, time_limit: float | None = None) -> tuple[Chosen, float, str]:
    """Solve the problem with a hand-written PuLP model and CBC: (chosen, seconds, status)."""
    start = time.perf_counter()
    cands = candidates(problem)
    tally = Tally(problem, ())
    prob = pulp.LpProblem("grants", pulp.LpMaximize)
    x = {c.position: pulp.LpVariable(f"x_{c.position}", cat="Binary") for c in cands}
    value = {c.position: sum(candidate_value(problem, c)) for c in cands}
    prob += pulp.lpSum(value[c.position] * x[c.position] for c in cands)
    total = pulp.lpSum(c.cost * x[c.position] for c in cands)
    prob += total <= problem.budget.total
    for y, limit in enumerate(problem.budget.per_year or ()):
        prob += pulp.lpSum(c.profile[y] * x[c.position] for c in cands) <= limit
    for app in problem.applications:
        options = [c for c in cands if c.application.id == app.id]
        if len(options) > 1:
            prob += pulp.lpSum(x[c.position] for c in options) <= 1

    def money(over: str, key: str) -> pulp.LpAffineExpression:
        return pulp.lpSum(c.cost * tally.shares(c, over).get(key, 0.0) * x[c.position] for c in cands)  # type: ignore[arg-type]

    orgs = sorted({a.organisation for a in problem.applications})
    for rule in problem.rules:
        if isinstance(rule, PassMark):
            for c in cands:
                if rule.fails(c.outcome_score, c.social_scores):
                    prob += x[c.position] == 0
        elif isinstance(rule, Pot):
            small = [c for c in cands if max(c.profile) <= rule.max_per_year]
            prob += pulp.lpSum(c.cost * x[c.position] for c in small) <= rule.amount
            if rule.ring_fenced:
                big = [c for c in cands if max(c.profile) > rule.max_per_year]
                prob += pulp.lpSum(c.cost * x[c.position] for c in big) <= problem.budget.total - rule.amount
        elif isinstance(rule, Coverage):
            keys = tally.keys(rule.over) if rule.key is None else [rule.key]
            for k in keys:
                m = money(rule.over, k)
                if rule.min_amount is not None:
                    prob += m >= rule.min_amount
                if rule.max_amount is not None:
                    prob += m <= rule.max_amount
                if rule.min_share is not None:
                    prob += m >= rule.min_share * total
                if rule.max_share is not None:
                    prob += m <= rule.max_share * total
                served = pulp.lpSum(x[c.position] for c in cands if k in tally.shares(c, rule.over))
                if rule.min_count is not None:
                    prob += served >= rule.min_count
                if rule.max_count is not None:
                    prob += served <= rule.max_count
        elif isinstance(rule, EqualityGap):
            for k, target in rule.targets(problem).items():
                lo, hi = rule.band(target)
                m = money(rule.over, k)
                prob += m >= lo * total
                prob += m <= hi * total
        elif isinstance(rule, NoNewGaps):
            for k in rule.served_today(problem):
                prob += pulp.lpSum(x[c.position] for c in cands if k in tally.shares(c, "cell")) >= 1
        elif isinstance(rule, OrganisationCap):
            for o in orgs if rule.organisation is None else [rule.organisation]:
                mine = [c for c in cands if c.organisation == o]
                if rule.max_amount is not None:
                    prob += pulp.lpSum(c.cost * x[c.position] for c in mine) <= rule.max_amount
                if rule.max_share is not None:
                    prob += pulp.lpSum(c.cost * x[c.position] for c in mine) <= rule.max_share * total
                if rule.max_awards is not None:
                    prob += pulp.lpSum(x[c.position] for c in mine) <= rule.max_awards
        elif isinstance(rule, MinOrganisations):
            funded = {o: pulp.LpVariable(f"org_{i}", cat="Binary") for i, o in enumerate(orgs)}
            for o in orgs:
                prob += funded[o] <= pulp.lpSum(x[c.position] for c in cands if c.organisation == o)
            prob += pulp.lpSum(funded.values()) >= rule.count
        else:
            raise NotImplementedError(f"hand-written baseline has no model of {rule.label}")
    prob.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, threads=1))
    chosen = [(c.application.id, c.variant_id) for c in cands if (x[c.position].varValue or 0) > 0.5]
    return chosen, time.perf_counter() - start, pulp.LpStatus[prob.status]


def greedy(problem: Problem) -> tuple[Chosen, float]:
    """The status quo (allocate.engine.greedy.rank_and_fund), timed."""
    start = time.perf_counter()
    chosen = rank_and_fund(problem)
    return chosen, time.perf_counter() - start
