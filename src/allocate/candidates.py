"""Candidate awards: each application as submitted, and each of its negotiated variants.

The solver chooses among candidates; at most one candidate per application is awarded.
Variant fields left unset inherit from the application. A candidate without a yearly
profile is split evenly over the budget years (remainder pence to the earliest years).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from allocate.model import Application, Problem, Variant


class Candidate(NamedTuple):
    """One awardable option, fully resolved (no inheritance left to apply).

    A NamedTuple: immutable and cheap to create by the hundred thousand.
    """

    position: int
    application: Application
    variant: Variant | None
    cost: int
    given_profile: tuple[int, ...] | None
    """The yearly amounts as stated, or None to derive them (see `profile`)."""
    shape: tuple[int, ...] | None
    """For a variant without its own profile: the parent's profile, scaled to the variant's cost."""
    years: int
    outcome_score: float
    social_scores: tuple[float, ...]
    districts: tuple[str, ...]
    """Districts served; empty means county-wide (every district)."""
    beneficiaries: int | None

    @property
    def id(self) -> str:
        return self.application.id if self.variant is None else f"{self.application.id}/{self.variant.id}"

    @property
    def profile(self) -> tuple[int, ...]:
        """Pence per budget year: as given, else the parent's shape, else an even split."""
        if self.given_profile is not None:
            return self.given_profile
        return split_pence(self.cost, self.shape if self.shape is not None else (1,) * self.years)

    @property
    def variant_id(self) -> str | None:
        return None if self.variant is None else self.variant.id

    @property
    def organisation(self) -> str:
        return self.application.organisation

    @property
    def client_groups(self) -> tuple[str, ...]:
        return self.application.client_groups


def split_pence(total: int, weights: tuple[int, ...]) -> tuple[int, ...]:
    """Split `total` pence in proportion to integer `weights`, exactly (largest remainder)."""
    if not weights or sum(weights) <= 0:
        weights = (1,) * max(1, len(weights))
    wsum = sum(weights)
    floors = [total * w // wsum for w in weights]
    rest = total - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % wsum), i))
    for i in order[:rest]:
        floors[i] += 1
    return tuple(floors)


def _profile(
    cost: int, given: tuple[int, ...] | None, shape: tuple[int, ...] | None, years: int
) -> tuple[int, ...]:
    if given is not None:
        return given
    return split_pence(cost, shape if shape is not None else (1,) * years)


def candidates(problem: Problem) -> tuple[Candidate, ...]:
    """Every candidate award of the problem, application by application, variants after."""
    years = problem.budget.years
    out: list[Candidate] = []
    for app in problem.applications:
        out.append(
            Candidate(
                position=len(out),
                application=app,
                variant=None,
                cost=app.cost,
                given_profile=app.cost_profile,
                shape=None,
                years=years,
                outcome_score=app.outcome_score,
                social_scores=app.social_scores,
                districts=app.districts,
                beneficiaries=app.beneficiaries,
            )
        )
        for var in app.variants:
            out.append(
                Candidate(
                    position=len(out),
                    application=app,
                    variant=var,
                    cost=var.cost,
                    given_profile=var.cost_profile,
                    shape=app.cost_profile,
                    years=years,
                    outcome_score=app.outcome_score if var.outcome_score is None else var.outcome_score,
                    social_scores=app.social_scores if var.social_scores is None else var.social_scores,
                    districts=app.districts if var.districts is None else var.districts,
                    beneficiaries=app.beneficiaries if var.beneficiaries is None else var.beneficiaries,
                )
            )
    return tuple(out)
