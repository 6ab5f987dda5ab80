"""Commitments from earlier rounds: money already promised in this round's budget years.

A multi-year grant awarded in an earlier round still pays out in the years this round
budgets for. A `Commitment` (`allocate.domain.parts`) states who holds it, how much it pays in each of this round's
budget years (pence), and which cells it serves (districts × client groups). It always

* reduces each year's budget (and the total) by its amounts, and
* serves its cells: they count as served today for `NoNewGaps`, and stay served by it.

It counts toward other rules only where the user says so (``counts_toward``): ``"coverage"``
(its money and one award toward every district, client group, cell and tag it serves or
carries), ``"equality_gap"`` (its money in the shares), ``"organisation_cap"`` (its money and
one award toward its organisation's caps) and ``"min_spend"`` (its money as spent in its years).
In a share rule the committed money counted also joins the total the share is of.

In the compiled rows commitments are constants: they shift row bounds (exact whole pence where
the row is whole pence), never add variables. The verifier adds them to what it tallies from
the Problem. The helpers here read the Problem directly, in plain Python.
"""

from __future__ import annotations

import math

from allocate.domain.parts import Commitment, CountsToward, Round
from allocate.domain.tally import Dimension, cell_key


def _counting(problem: Round, kind: CountsToward | None) -> list[Commitment]:
    return [c for c in problem.commitments if kind is None or c.counts(kind)]


def per_year(problem: Round, kind: CountsToward | None = None) -> list[int]:
    """Committed pence in each budget year (every commitment, or those counting toward `kind`)."""
    years = problem.budget.years
    return [sum(c.amounts[y] for c in _counting(problem, kind)) for y in range(years)]


def total(problem: Round, kind: CountsToward | None = None) -> int:
    """Committed pence over the round's years."""
    return sum(c.total for c in _counting(problem, kind))


def tags_of(problem: Round, commitment: Commitment) -> tuple[str, ...]:
    """The commitment's own tags and its organisation's, sorted."""
    org = {o.id: o.tags for o in problem.organisations}.get(commitment.organisation, ())
    return tuple(sorted({*commitment.tags, *org}))


def _shares(problem: Round, c: Commitment, over: Dimension) -> dict[str, float]:
    """How a commitment's money splits across keys: as an application's would (Tally.shares)."""
    if over == "tag":
        return dict.fromkeys(tags_of(problem, c), 1.0)
    groups = {g: 1.0 / len(c.client_groups) for g in c.client_groups}
    if over == "client_group":
        return groups
    basis = {
        d.id: (d.population if problem.attribution == "population" else d.need) for d in problem.districts
    }
    served = c.districts or tuple(basis)
    whole = math.fsum(basis[d] for d in served)
    districts = {d: basis[d] / whole for d in served}
    if over == "district":
        return districts
    return {cell_key(d, g): wd * wg for d, wd in districts.items() for g, wg in groups.items()}


def attributed(problem: Round, over: Dimension, kind: CountsToward) -> dict[str, float]:
    """Committed pence attributed to each key (only keys with some), like `Tally.attributed`."""
    parts: dict[str, list[float]] = {}
    for c in _counting(problem, kind):
        for k, w in _shares(problem, c, over).items():
            parts.setdefault(k, []).append(c.total * w)
    return {k: math.fsum(v) for k, v in parts.items()}


def serving(problem: Round, over: Dimension, kind: CountsToward | None) -> dict[str, int]:
    """Number of commitments serving (carrying) each key (only keys with some)."""
    out: dict[str, int] = {}
    for c in _counting(problem, kind):
        for k in _shares(problem, c, over):
            out[k] = out.get(k, 0) + 1
    return out


def by_organisation(problem: Round, kind: CountsToward) -> tuple[dict[str, int], dict[str, int]]:
    """(committed pence, commitments) per organisation."""
    money: dict[str, int] = {}
    count: dict[str, int] = {}
    for c in _counting(problem, kind):
        money[c.organisation] = money.get(c.organisation, 0) + c.total
        count[c.organisation] = count.get(c.organisation, 0) + 1
    return money, count
