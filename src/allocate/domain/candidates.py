"""Candidate awards: each application as submitted, and each of its negotiated variants.

The solver chooses among candidates; at most one candidate per application is awarded.
Variant fields left unset inherit from the application. A candidate without a yearly
profile is split evenly over the budget years (remainder pence to the earliest years).
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, SupportsIndex, overload

import numpy as np

from allocate.domain.columns import Columns, Ragged
from allocate.domain.parts import Application, Round, Variant


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


def options(app: Application, years: int, start: int) -> list[Candidate]:
    """The candidates of one application: as submitted, then each variant (from position `start`)."""
    out = [
        Candidate(
            position=start,
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
    ]
    for k, var in enumerate(app.variants):
        out.append(
            Candidate(
                position=start + 1 + k,
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
    return out


def candidates(problem: Round) -> tuple[Candidate, ...]:
    """Every candidate award of the problem, application by application, variants after."""
    years = problem.budget.years
    out: list[Candidate] = []
    for app in problem.applications:
        out.extend(options(app, years, len(out)))
    return tuple(out)


class Candidates(Sequence[Candidate]):
    """A problem's candidates in compile's order, each made when first asked for: a compiled
    national round reads arrays (`CandidateArrays`), and only the awards chosen need objects."""

    def __init__(self, problem: Round, arrays: CandidateArrays) -> None:
        self.problem = problem
        self.arrays = arrays
        self._made: dict[int, list[Candidate]] = {}

    def __len__(self) -> int:
        return len(self.arrays.app_of)

    @overload
    def __getitem__(self, j: SupportsIndex) -> Candidate: ...

    @overload
    def __getitem__(self, j: slice) -> tuple[Candidate, ...]: ...

    def __getitem__(self, j: SupportsIndex | slice) -> Candidate | tuple[Candidate, ...]:
        if isinstance(j, slice):
            return tuple(self[k] for k in range(*j.indices(len(self))))
        k = operator.index(j)
        if not -len(self) <= k < len(self):
            raise IndexError(f"candidate {j} of {len(self)}")
        k %= len(self)
        a = int(self.arrays.app_of[k])
        made = self._made.get(a)
        if made is None:
            start = int(self.arrays.first[a])
            made = self._made[a] = options(self.problem.applications[a], self.problem.budget.years, start)
        return made[k - int(self.arrays.first[a])]

    def __iter__(self) -> Iterator[Candidate]:
        return iter(candidates(self.problem))

    def __reduce__(self) -> tuple[type[Candidates], tuple[Round, CandidateArrays]]:
        return (Candidates, (self.problem, self.arrays))


@dataclass(frozen=True, eq=False)
class CandidateArrays:
    """Every candidate of a problem as arrays, in compile's order (each application, then its
    variants), with the variants' inheritance resolved: what compile reads."""

    app_of: np.ndarray
    """The application of each candidate."""
    variant_of: np.ndarray
    """The variant (row of `VariantColumns`) of each candidate; -1 for an application as submitted."""
    first: np.ndarray
    """Application i's candidates are ``first[i]:first[i + 1]``."""
    cost: np.ndarray
    profile: np.ndarray
    """n × years pence: as given, else the parent's shape, else an even split (as `Candidate.profile`)."""
    outcome: np.ndarray
    social: np.ndarray
    beneficiaries: np.ndarray
    """0 where none is given (as compile has always counted them)."""
    districts: Ragged
    client_groups: Ragged
    labels: list[str]


def candidate_arrays(columns: Columns, years: int) -> CandidateArrays:
    """The candidate arrays of a problem's columns (no Python loop over applications)."""
    n, v = len(columns), columns.variants
    m = len(v)
    ranges = columns.variant_ranges
    app_pos = np.arange(n) + ranges[:-1]
    first = np.append(app_pos, n + m).astype(np.int64)
    var_pos = app_pos[v.parent] + 1 + (np.arange(m) - ranges[:-1][v.parent])
    app_of = np.repeat(np.arange(n), np.diff(first))
    variant_of = np.full(n + m, -1, dtype=np.int64)
    variant_of[var_pos] = np.arange(m)

    def resolved(own: np.ndarray, inherited: np.ndarray, given: np.ndarray) -> np.ndarray:
        out = inherited[app_of]
        out[var_pos[given]] = own[given]
        return out

    everywhere = np.ones(m, dtype=bool)
    cost = resolved(v.cost, columns.cost, everywhere)
    both = Ragged(
        np.concatenate([columns.districts.ptr, columns.districts.ptr[-1] + v.districts.ptr[1:]]),
        np.concatenate([columns.districts.idx, v.districts.idx]),
    )
    source = app_of.copy()
    source[var_pos[v.has_districts]] = n + np.flatnonzero(v.has_districts)
    labels = np.empty(n + m, dtype=object)
    labels[app_pos] = columns.ids
    labels[var_pos] = [f"{columns.ids[p]}/{k}" for p, k in zip(v.parent.tolist(), v.ids, strict=True)]
    return CandidateArrays(
        app_of=app_of,
        variant_of=variant_of,
        first=first,
        cost=cost,
        profile=_profiles(columns, var_pos, cost, years),
        outcome=resolved(v.outcome, columns.outcome, v.has_outcome),
        social=resolved(v.social, columns.social, v.has_social),
        beneficiaries=resolved(v.beneficiaries, columns.beneficiaries, v.has_beneficiaries),
        districts=both.take(source),
        client_groups=columns.client_groups.take(app_of),
        labels=labels.tolist(),
    )


def _profiles(columns: Columns, var_pos: np.ndarray, cost: np.ndarray, years: int) -> np.ndarray:
    """Each candidate's yearly pence, exactly as `Candidate.profile` computes them."""
    v = columns.variants
    base, rest = np.divmod(cost, years)
    profile = base[:, None] + (np.arange(years)[None, :] < rest[:, None])
    app_rows = np.flatnonzero(columns.has_profile)
    profile[app_rows + columns.variant_ranges[app_rows]] = columns.profile[app_rows]
    profile[var_pos[v.has_profile]] = v.profile[v.has_profile]
    shaped = np.flatnonzero(~v.has_profile & columns.has_profile[v.parent])
    if len(shaped):
        profile[var_pos[shaped]] = split_shares(v.cost[shaped], columns.profile[v.parent[shaped]])
    return profile.astype(np.int64)


def split_shares(totals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`split_pence` row by row: each total in proportion to its row of integer weights, exactly
    (largest remainder, ties to the earlier year); rows whose products could pass 2**63 in Python."""
    totals = totals.astype(np.int64)
    weights = weights.astype(np.int64)
    wsum = weights.sum(axis=1)
    safe = (wsum > 0) & (totals <= np.iinfo(np.int64).max // np.maximum(wsum, 1))
    out = np.zeros(weights.shape, dtype=np.int64)
    t, w, s = totals[safe, None], weights[safe], wsum[safe, None]
    floors, remainder = np.divmod(t * w, s)
    rest = t[:, 0] - floors.sum(axis=1)
    order = np.argsort(-remainder, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(w.shape[1])[None, :].repeat(len(w), axis=0), axis=1)
    out[safe] = floors + (rank < rest[:, None])
    for i in np.flatnonzero(~safe).tolist():
        out[i] = split_pence(int(totals[i]), tuple(weights[i].tolist()))
    return out
