"""What a round's awards carry over to a later round: the commitments they leave (`commitments_from`).

A multi-year award made now still pays out in the years a later round budgets for; there it
is a `Commitment` (`allocate.domain.commitments`). Built from an Allocation, the engine's output,
so it sits on the engine's floor.
"""

from __future__ import annotations

import numbers

from allocate.domain.errors import InvalidProblemError
from allocate.domain.model import Problem
from allocate.domain.parts import Commitment, CountsToward
from allocate.engine.result import Allocation
from allocate.engine.verify import resolve


def commitments_from(
    allocation: Allocation,
    problem: Problem,
    *,
    years_later: int = 1,
    years: int | None = None,
    counts_toward: tuple[CountsToward, ...] = ("coverage", "equality_gap", "organisation_cap"),
) -> tuple[Commitment, ...]:
    """The commitments a round's awards leave to a round starting `years_later` budget years on.

    Each award's yearly amounts from year ``years_later + 1`` on become the later round's first
    years (`years`: the later round's number of budget years, default this round's; years past
    the award's end are 0). Awards that have finished by then leave nothing. Ids are the award's
    application (``/variant`` when a variant was awarded); districts served are the awarded
    option's, client groups and own tags the application's.
    """
    if isinstance(years_later, bool) or not isinstance(years_later, numbers.Integral) or years_later < 0:
        raise InvalidProblemError(
            ("commitments_from", "years_later"), f"must be a whole number >= 0, not {years_later!r}"
        )
    if years is not None and (
        isinstance(years, bool) or not isinstance(years, numbers.Integral) or years < 1
    ):
        raise InvalidProblemError(
            ("commitments_from", "years"), f"must be a whole number >= 1, not {years!r}"
        )
    n = problem.budget.years if years is None else years
    chosen, unknown = resolve(problem, [(a.application, a.variant) for a in allocation.awards])
    if unknown:
        raise InvalidProblemError(("commitments_from", "allocation"), f"is not of this problem: {unknown[0]}")
    out = []
    for cand in chosen:
        rest = tuple(cand.profile[years_later:])[:n]
        amounts = rest + (0,) * (n - len(rest))
        if not any(amounts):
            continue
        out.append(
            Commitment(
                id=cand.id,
                organisation=cand.organisation,
                amounts=amounts,
                client_groups=cand.client_groups,
                districts=cand.districts,
                tags=cand.application.tags,
                counts_toward=counts_toward,
            )
        )
    return tuple(out)
