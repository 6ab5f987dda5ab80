"""Rules of a grants round: small declarative objects.

Each rule knows two things, kept deliberately separate:

* ``emit(ctx)``: its linear rows over the award variables, built vectorised by the compiler;
* ``check(tally)``: a plain-Python test of a chosen set of awards, used by the verifier.

Row and check labels match, e.g. ``Coverage.min_amount[district=Hastings]``, so reports,
explanations and infeasibility diagnoses speak the user's words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, StrictBool, model_validator

from allocate.errors import InvalidProblemError, Loc
from allocate.schema import MAX_COUNT, Count, Frozen, Pence, PenceOrZero, field_error
from allocate.tally import Dimension, Tally, cell_key

if TYPE_CHECKING:
    from allocate.compile import CompileContext
    from allocate.model import Problem

Share = Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)]
Sense = Literal["<=", ">="]


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One row of a rule, checked on an allocation: achieved vs limit."""

    label: str
    sense: Sense
    achieved: float
    limit: float
    unit: Literal["pence", "awards", "organisations"] = "pence"
    tolerance: float = 0.0
    can_bind: StrictBool = True
    """False for prohibitions (limit 0 by design), which are always met with equality."""

    @property
    def slack(self) -> float:
        """How far inside the limit the allocation is (negative: violated)."""
        return self.limit - self.achieved if self.sense == "<=" else self.achieved - self.limit

    @property
    def ok(self) -> bool:
        return self.slack >= -self.tolerance

    @property
    def binding(self) -> bool:
        """The limit is met exactly (to within the check's tolerance, or under a penny)."""
        return self.can_bind and self.slack <= max(self.tolerance, 0.5 if self.unit == "pence" else 0.0)


def _cap(label: str, sense: Sense, achieved: float, limit: float, **kw: Any) -> RuleCheck:
    return RuleCheck(label, sense, achieved, limit, **kw)


class RuleBase(Frozen):
    """Shared behaviour of rules."""

    @property
    def label(self) -> str:
        return type(self).__name__

    def validate_against(self, problem: Problem, loc: Loc) -> None:
        """Raise InvalidProblemError if the rule refers to something the problem lacks.

        `loc` is the rule's own location (e.g. ``("Problem", "rules", 2)``); errors name a field
        under it.
        """

    def emit(self, ctx: CompileContext) -> None:
        raise NotImplementedError

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        raise NotImplementedError


def _column(m: sp.csr_matrix, keys: list[str], key: str | None) -> tuple[sp.csr_matrix, list[str]]:
    """Transpose an n×K incidence to K×n rows, restricted to one key if given."""
    rows = m.T.tocsr()
    if key is None:
        return rows, keys
    i = keys.index(key)
    return rows[i : i + 1], [key]


class Pot(RuleBase):
    """A ring-fenced pot (e.g. small grants) for awards whose largest yearly amount is in its band.

    Awards in the band are paid from the pot, at most `amount` in all. When `ring_fenced`,
    the pot's money is not available to other awards: they share `budget.total - amount`.
    """

    kind: Literal["pot"] = "pot"
    name: str = "small grants"
    max_per_year: Pence
    amount: Pence
    ring_fenced: StrictBool = True

    @property
    def label(self) -> str:
        return f"Pot[{self.name}]"

    def validate_against(self, problem: Problem, loc: Loc) -> None:
        if self.amount > problem.budget.total:
            raise InvalidProblemError((*loc, "amount"), "is larger than the whole budget")

    def _in_band(self, profile_max: int) -> bool:
        return profile_max <= self.max_per_year

    def emit(self, ctx: CompileContext) -> None:
        band = ctx.profile.max(axis=1) <= self.max_per_year
        rows = [np.where(band, ctx.cost, 0.0)]
        labels = [self.label]
        hi = [float(self.amount)]
        if self.ring_fenced:
            rows.append(np.where(band, 0.0, ctx.cost))
            labels.append(f"Pot[{self.name}: rest of budget]")
            hi.append(float(ctx.problem.budget.total - self.amount))
        ctx.add_rows(labels, -math.inf, hi, x=sp.csr_matrix(np.vstack(rows)))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        band = sum(c.cost for c in tally.chosen if self._in_band(max(c.profile)))
        out = [_cap(self.label, "<=", band, self.amount)]
        if self.ring_fenced:
            rest = tally.total - band
            limit = tally.problem.budget.total - self.amount
            out.append(_cap(f"Pot[{self.name}: rest of budget]", "<=", rest, limit))
        return out


class Coverage(RuleBase):
    """Bounds on the money, share of money, or number of awards reaching a district,
    client group or district×group cell (``key`` like ``"Hastings:carers"``).

    ``key=None`` applies the bounds to every district / group / cell. Money of awards
    serving several districts or groups is attributed pro rata (see Problem.attribution);
    a count includes every award that serves the key at all.
    """

    kind: Literal["coverage"] = "coverage"
    over: Dimension
    key: str | None = None
    min_amount: PenceOrZero | None = None
    max_amount: PenceOrZero | None = None
    min_share: Share | None = None
    max_share: Share | None = None
    min_count: Count | None = None
    max_count: Count | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> Coverage:
        bounds = (
            self.min_amount,
            self.max_amount,
            self.min_share,
            self.max_share,
            self.min_count,
            self.max_count,
        )
        if all(b is None for b in bounds):
            raise field_error(
                "Coverage", "min_amount", "Coverage needs at least one bound (min/max amount, share or count)"
            )
        return self

    def validate_against(self, problem: Problem, loc: Loc) -> None:
        if self.key is not None and self.key not in Tally(problem, ()).keys(self.over):
            raise InvalidProblemError((*loc, "key"), f"{self.key!r} is not a {self.over} of the problem")

    @property
    def label(self) -> str:
        return f"Coverage[{self.over}={self.key or '*'}]"

    def _bounds(self) -> list[tuple[str, Sense, float, str]]:
        spec = [
            ("min_amount", ">=", self.min_amount, "amount"),
            ("max_amount", "<=", self.max_amount, "amount"),
            ("min_share", ">=", self.min_share, "share"),
            ("max_share", "<=", self.max_share, "share"),
            ("min_count", ">=", self.min_count, "count"),
            ("max_count", "<=", self.max_count, "count"),
        ]
        return [(name, sense, float(v), what) for name, sense, v, what in spec if v is not None]  # type: ignore[misc]

    def emit(self, ctx: CompileContext) -> None:
        keys = ctx.keys(self.over)
        money, used = _column(ctx.attr(self.over).multiply(ctx.cost[:, None]).tocsr(), keys, self.key)
        served, _ = _column(ctx.serve(self.over), keys, self.key)
        for name, sense, v, what in self._bounds():
            labels = [f"Coverage.{name}[{self.over}={k}]" for k in used]
            lo, hi = (v, math.inf) if sense == ">=" else (-math.inf, v)
            if what == "amount":
                ctx.add_rows(labels, lo, hi, x=money)
            elif what == "count":
                ctx.add_rows(labels, lo, hi, x=served)
            else:
                lo, hi = (0.0, math.inf) if sense == ">=" else (-math.inf, 0.0)
                ctx.add_rows(labels, lo, hi, x=money, total=np.full(len(used), -v))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        keys = tally.keys(self.over) if self.key is None else [self.key]
        money = tally.attributed(self.over)
        count = tally.serving(self.over)
        out = []
        for name, sense, v, what in self._bounds():
            for k in keys:
                label = f"Coverage.{name}[{self.over}={k}]"
                if what == "amount":
                    out.append(_cap(label, sense, money[k], v, tolerance=tolerance))
                elif what == "count":
                    out.append(_cap(label, sense, count[k], v, unit="awards"))
                else:
                    out.append(_cap(label, sense, money[k], v * tally.total, tolerance=tolerance))
        return out


class EqualityGap(RuleBase):
    """Each district's (or client group's) share of awarded money stays near its share of need.

    With ``ratio=None`` the share must lie within ``tolerance`` (absolute, e.g. 0.05 = ±5
    percentage points) of the target share; with ``ratio=(lo, hi)`` it must lie within
    lo × target .. hi × target. Targets come from District.need or District.population
    (``basis``), or ClientGroup.need.
    """

    kind: Literal["equality_gap"] = "equality_gap"
    over: Literal["district", "client_group"] = "district"
    basis: Literal["need", "population"] = "need"
    tolerance: Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)] = 0.05
    ratio: (
        tuple[
            Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)],
            Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)],
        ]
        | None
    ) = None

    @property
    def label(self) -> str:
        return f"EqualityGap[{self.over}]"

    def validate_against(self, problem: Problem, loc: Loc) -> None:
        if self.over == "client_group" and self.basis == "population":
            raise InvalidProblemError((*loc, "basis"), "client groups have no population; use 'need'")
        if self.ratio is not None and self.ratio[0] > self.ratio[1]:
            raise InvalidProblemError((*loc, "ratio"), "lower ratio exceeds the upper one")

    def targets(self, problem: Problem) -> dict[str, float]:
        """Each key's target share of awarded money (sums to 1)."""
        if self.over == "district":
            raw = {
                d.id: float(d.population if self.basis == "population" else d.need) for d in problem.districts
            }
        else:
            raw = {g.id: g.need for g in problem.client_groups}
        total = math.fsum(raw.values())
        return {k: v / total for k, v in raw.items()}

    def band(self, target: float) -> tuple[float, float]:
        if self.ratio is not None:
            return self.ratio[0] * target, self.ratio[1] * target
        return target - self.tolerance, target + self.tolerance

    def emit(self, ctx: CompileContext) -> None:
        keys = ctx.keys(self.over)
        money = ctx.attr(self.over).multiply(ctx.cost[:, None]).T.tocsr()
        targets = self.targets(ctx.problem)
        lows, highs = zip(*(self.band(targets[k]) for k in keys), strict=True)
        ctx.add_rows(
            [f"EqualityGap.low[{self.over}={k}]" for k in keys], 0.0, math.inf, x=money, total=-np.array(lows)
        )
        ctx.add_rows(
            [f"EqualityGap.high[{self.over}={k}]" for k in keys],
            -math.inf,
            0.0,
            x=money,
            total=-np.array(highs),
        )

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        money = tally.attributed(self.over)
        out = []
        for k, t in self.targets(tally.problem).items():
            lo, hi = self.band(t)
            out.append(
                _cap(
                    f"EqualityGap.low[{self.over}={k}]", ">=", money[k], lo * tally.total, tolerance=tolerance
                )
            )
            out.append(
                _cap(
                    f"EqualityGap.high[{self.over}={k}]",
                    "<=",
                    money[k],
                    hi * tally.total,
                    tolerance=tolerance,
                )
            )
        return out


class NoNewGaps(RuleBase):
    """Every district×group cell served today keeps at least one award.

    Cells served today are those of applications marked ``continues_service`` (as
    submitted), unless ``cells`` lists them explicitly (keys like ``"Hastings:carers"``).
    County-wide awards serve every district.
    """

    kind: Literal["no_new_gaps"] = "no_new_gaps"
    cells: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        return "NoNewGaps"

    def served_today(self, problem: Problem) -> list[str]:
        if self.cells is not None:
            return list(self.cells)
        all_districts = tuple(d.id for d in problem.districts)
        cells = {
            cell_key(d, g)
            for a in problem.applications
            if a.continues_service
            for d in (a.districts or all_districts)
            for g in a.client_groups
        }
        return [k for k in Tally(problem, ()).keys("cell") if k in cells]

    def validate_against(self, problem: Problem, loc: Loc) -> None:
        known = set(Tally(problem, ()).keys("cell"))
        for i, k in enumerate(self.cells or ()):
            if k not in known:
                raise InvalidProblemError((*loc, "cells", i), f"{k!r} is not a 'district:client_group' cell")

    def emit(self, ctx: CompileContext) -> None:
        keys = ctx.keys("cell")
        cells = self.served_today(ctx.problem)
        if not cells:
            return
        position = {k: i for i, k in enumerate(keys)}
        served = ctx.serve("cell").T.tocsr()[[position[k] for k in cells]]
        ctx.add_rows([f"NoNewGaps[{k}]" for k in cells], 1.0, math.inf, x=served)

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        count = tally.serving("cell")
        return [
            _cap(f"NoNewGaps[{k}]", ">=", count[k], 1, unit="awards")
            for k in self.served_today(tally.problem)
        ]


class OrganisationCap(RuleBase):
    """Limits per organisation: money, share of all awarded money, number of awards.

    ``organisation=None`` applies the caps to every organisation.
    """

    kind: Literal["organisation_cap"] = "organisation_cap"
    organisation: str | None = None
    max_amount: PenceOrZero | None = None
    max_share: Share | None = None
    max_awards: Count | None = None

    @model_validator(mode="after")
    def _some_cap(self) -> OrganisationCap:
        if self.max_amount is None and self.max_share is None and self.max_awards is None:
            raise field_error(
                "OrganisationCap", "max_amount", "OrganisationCap needs max_amount, max_share or max_awards"
            )
        return self

    @property
    def label(self) -> str:
        return f"OrganisationCap[{self.organisation or '*'}]"

    def validate_against(self, problem: Problem, loc: Loc) -> None:
        if self.organisation is not None and self.organisation not in {
            a.organisation for a in problem.applications
        }:
            raise InvalidProblemError(
                (*loc, "organisation"), f"no application comes from {self.organisation!r}"
            )

    def emit(self, ctx: CompileContext) -> None:
        orgs = ctx.organisations
        incidence, used = _column(ctx.org_matrix, orgs, self.organisation)
        money = incidence.multiply(ctx.cost[None, :]).tocsr()
        if self.max_amount is not None:
            ctx.add_rows(
                [f"OrganisationCap.max_amount[{o}]" for o in used], -math.inf, float(self.max_amount), x=money
            )
        if self.max_share is not None:
            ctx.add_rows(
                [f"OrganisationCap.max_share[{o}]" for o in used],
                -math.inf,
                0.0,
                x=money,
                total=np.full(len(used), -self.max_share),
            )
        if self.max_awards is not None:
            ctx.add_rows(
                [f"OrganisationCap.max_awards[{o}]" for o in used],
                -math.inf,
                float(self.max_awards),
                x=incidence,
            )

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        money, count = tally.by_organisation()
        orgs = sorted(money) if self.organisation is None else [self.organisation]
        out = []
        for o in orgs:
            if self.max_amount is not None:
                out.append(_cap(f"OrganisationCap.max_amount[{o}]", "<=", money[o], self.max_amount))
            if self.max_share is not None:
                out.append(
                    _cap(
                        f"OrganisationCap.max_share[{o}]",
                        "<=",
                        money[o],
                        self.max_share * tally.total,
                        tolerance=tolerance,
                    )
                )
            if self.max_awards is not None:
                out.append(
                    _cap(f"OrganisationCap.max_awards[{o}]", "<=", count[o], self.max_awards, unit="awards")
                )
        return out


class MinOrganisations(RuleBase):
    """At least ``count`` distinct organisations receive an award."""

    kind: Literal["min_organisations"] = "min_organisations"
    count: Annotated[int, Field(strict=True, ge=1, le=MAX_COUNT)]

    @property
    def label(self) -> str:
        return "MinOrganisations"

    def emit(self, ctx: CompileContext) -> None:
        n_org = len(ctx.organisations)
        start = ctx.add_aux([f"funded[{o}]" for o in ctx.organisations])
        link = sp.hstack([ctx.org_matrix.T, -sp.identity(n_org)]).tocsr()
        ctx.add_rows(
            [f"MinOrganisations.link[{o}]" for o in ctx.organisations],
            0.0,
            math.inf,
            x=link[:, : ctx.n],
            aux=(start, link[:, ctx.n :]),
        )
        ctx.add_rows(
            [self.label], float(self.count), math.inf, aux=(start, sp.csr_matrix(np.ones((1, n_org))))
        )

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        funded = len({c.organisation for c in tally.chosen})
        return [_cap(self.label, ">=", funded, self.count, unit="organisations")]


class PassMark(RuleBase):
    """Only candidates scoring at least the pass mark may be funded (variants use their own scores).

    ``min_social`` applies to the plain mean of the social-capital scores.
    """

    kind: Literal["pass_mark"] = "pass_mark"
    min_outcome: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)] | None = None
    min_social: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _some_mark(self) -> PassMark:
        if self.min_outcome is None and self.min_social is None:
            raise field_error("PassMark", "min_outcome", "PassMark needs min_outcome or min_social")
        return self

    @property
    def label(self) -> str:
        return "PassMark"

    def validate_against(self, problem: Problem, loc: Loc) -> None:
        if self.min_outcome is not None and self.min_outcome > problem.scale.outcome_max:
            raise InvalidProblemError((*loc, "min_outcome"), "is above the outcome scale maximum")
        if self.min_social is not None and self.min_social > problem.scale.social_max:
            raise InvalidProblemError((*loc, "min_social"), "is above the social scale maximum")

    def fails(self, outcome: float, social: tuple[float, ...]) -> bool:
        low_outcome = self.min_outcome is not None and outcome < self.min_outcome
        low_social = self.min_social is not None and math.fsum(social) / len(social) < self.min_social
        return low_outcome or low_social

    def emit(self, ctx: CompileContext) -> None:
        failing = np.zeros(ctx.n, dtype=bool)
        if self.min_outcome is not None:
            failing |= ctx.outcome < self.min_outcome
        if self.min_social is not None:
            # numpy's mean may differ from the verifier's fsum in the last bit: candidates whose
            # mean is that close to the mark are decided by `fails` itself, as the verifier does.
            mean = ctx.social.mean(axis=1)
            failing |= mean < self.min_social
            close = np.flatnonzero(np.abs(mean - self.min_social) <= 1e-9 * max(1.0, self.min_social))
            for j in close:
                c = ctx.candidates[j]
                failing[j] = self.fails(c.outcome_score, c.social_scores)
        ctx.add_rows([self.label], -math.inf, 0.0, x=sp.csr_matrix(failing.astype(float)[None, :]))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        failing = sum(1 for c in tally.chosen if self.fails(c.outcome_score, c.social_scores))
        return [_cap(self.label, "<=", failing, 0, unit="awards", can_bind=False)]


def _require_app(problem: Problem, app_id: str, loc: Loc) -> None:
    if app_id not in {a.id for a in problem.applications}:
        raise InvalidProblemError(loc, f"unknown application {app_id!r}")


class Lock(RuleBase):
    """Must fund (``fund=True``) or must not fund an application.

    With ``variant`` set, must fund exactly that option: a variant id, or the
    application's own id for the application as submitted.
    """

    kind: Literal["lock"] = "lock"
    application: str
    fund: StrictBool = True
    variant: str | None = None

    @property
    def label(self) -> str:
        target = self.application if self.variant is None else f"{self.application}/{self.variant}"
        return f"Lock[{'fund' if self.fund else 'exclude'} {target}]"

    def validate_against(self, problem: Problem, loc: Loc) -> None:
        _require_app(problem, self.application, (*loc, "application"))
        if self.variant is not None:
            if not self.fund:
                raise InvalidProblemError((*loc, "variant"), "only applies with fund=True")
            app = problem.application(self.application)
            if self.variant not in {app.id, *(v.id for v in app.variants)}:
                raise InvalidProblemError(
                    (*loc, "variant"), f"{self.variant!r} is not an option of {app.id!r}"
                )

    def _targets(self, ctx: CompileContext) -> np.ndarray:
        options = ctx.options_of(self.application)
        if self.variant is None:
            return options
        variant = None if self.variant == self.application else self.variant
        return np.array([ctx.candidate(self.application, variant)])

    def emit(self, ctx: CompileContext) -> None:
        row = np.zeros((1, ctx.n))
        row[0, self._targets(ctx)] = 1.0
        lo, hi = (1.0, math.inf) if self.fund else (-math.inf, 0.0)
        ctx.add_rows([self.label], lo, hi, x=sp.csr_matrix(row))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        def hit(app: str, var: str | None) -> bool:
            if app != self.application:
                return False
            return self.variant is None or (var or app) == self.variant

        n = sum(1 for c in tally.chosen if hit(c.application.id, c.variant_id))
        if self.fund:
            return [_cap(self.label, ">=", n, 1, unit="awards")]
        return [_cap(self.label, "<=", n, 0, unit="awards", can_bind=False)]


class Exclusive(RuleBase):
    """At most ``at_most`` of these applications may be funded (e.g. duplicate bids)."""

    kind: Literal["exclusive"] = "exclusive"
    applications: tuple[str, ...] = Field(min_length=2)
    at_most: Annotated[int, Field(strict=True, ge=1, le=MAX_COUNT)] = 1

    @property
    def label(self) -> str:
        return f"Exclusive[{','.join(self.applications)}]"

    def validate_against(self, problem: Problem, loc: Loc) -> None:
        for i, a in enumerate(self.applications):
            _require_app(problem, a, (*loc, "applications", i))
        if len(set(self.applications)) != len(self.applications):
            raise InvalidProblemError((*loc, "applications"), "lists an application twice")

    def emit(self, ctx: CompileContext) -> None:
        row = np.zeros((1, ctx.n))
        for a in self.applications:
            row[0, ctx.options_of(a)] = 1.0
        ctx.add_rows([self.label], -math.inf, float(self.at_most), x=sp.csr_matrix(row))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        n = sum(1 for c in tally.chosen if c.application.id in self.applications)
        return [_cap(self.label, "<=", n, self.at_most, unit="awards")]


class Requires(RuleBase):
    """``application`` may be funded only if ``requires`` is funded too."""

    kind: Literal["requires"] = "requires"
    application: str
    requires: str

    @property
    def label(self) -> str:
        return f"Requires[{self.application}->{self.requires}]"

    def validate_against(self, problem: Problem, loc: Loc) -> None:
        _require_app(problem, self.application, (*loc, "application"))
        _require_app(problem, self.requires, (*loc, "requires"))
        if self.application == self.requires:
            raise InvalidProblemError((*loc, "requires"), "an application cannot require itself")

    def emit(self, ctx: CompileContext) -> None:
        row = np.zeros((1, ctx.n))
        row[0, ctx.options_of(self.application)] = 1.0
        row[0, ctx.options_of(self.requires)] = -1.0
        ctx.add_rows([self.label], -math.inf, 0.0, x=sp.csr_matrix(row))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        ids = [c.application.id for c in tally.chosen]
        n = ids.count(self.application) - ids.count(self.requires)
        return [_cap(self.label, "<=", n, 0, unit="awards")]


Rule = Annotated[
    Pot
    | Coverage
    | EqualityGap
    | NoNewGaps
    | OrganisationCap
    | MinOrganisations
    | PassMark
    | Lock
    | Exclusive
    | Requires,
    Field(discriminator="kind"),
]
"""Any rule; in JSON a rule is an object with a ``kind`` field (e.g. ``"coverage"``)."""
