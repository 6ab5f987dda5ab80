"""A second round after the reference one: East Sussex 2012 [SYNTHETIC, docs/scenarios.md].

The 2012 prospectus followed the 2011 one. Its bids are a fresh draw of the same synthetic
model (`east_sussex_2011(seed=2012)`: the same districts, client groups, envelope and rules;
organisation ids ``org-NNN`` are read as the same organisations in both rounds), and the 2011
allocation's multi-year awards are its commitments (`commitments_from`): each award's second
and third years become the 2012 round's first and second, so they take their share of those
years' budgets, count as served today for no-new-gaps, and count toward coverage, equality
gaps and organisation caps.
"""

from __future__ import annotations

from allocate.domain.model import Problem
from allocate.domain.parts import CountsToward
from allocate.domain.rules import MinOrganisations
from allocate.engine.carry_over import commitments_from
from allocate.engine.result import Allocation
from allocate.scenarios.east_sussex import east_sussex_2011


def east_sussex_2012(
    after: Allocation | None = None,
    *,
    seed: int = 2012,
    counts_toward: tuple[CountsToward, ...] = ("coverage", "equality_gap", "organisation_cap"),
) -> Problem:
    """The 2012 round, committed by `after` (an allocation of `east_sussex_2011()`; default: its
    optimal allocation, solved here)."""
    first = east_sussex_2011()
    if after is None:
        from allocate.engine.solve import solve

        after = solve(first, diagnose=False)
    base = east_sussex_2011(seed)
    return base.replace(
        name=f"east_sussex_2012(seed={seed}, after 2011)",
        # Commitments do not count toward MinOrganisations, and the 2011 awards leave little of
        # the 2012 round's first two years: 40 new organisations cannot be funded (docs/scenarios.md).
        rules=tuple(r for r in base.rules if not isinstance(r, MinOrganisations)),
        commitments=commitments_from(after, first, counts_toward=counts_toward),
    )
