"""Rules of a grants round: small declarative objects, each kind all in one class.

What a kind of rule knows lives in its class, nowhere else (docs/architecture.md):

* its fields and their validation (pydantic), and ``validate_against(problem)``: what it refers
  to exists in the round;
* ``emit(ctx)``: its linear rows over the award variables, built vectorised by the compiler;
* ``check(tally)``: a plain-Python test of a chosen set of awards, used by the verifier;
* ``sentences(problem, whom)``: each of its rows in plain words (reports, letters, frames);
* for pricing and diagnosis: ``display_name``, ``equity``, ``target`` (class attributes) and
  ``at_tolerance`` (a band `price_of_rules` also prices); each row's unit, given with the row.

Row and check labels match, e.g. ``Coverage.min_amount[district=Hastings]``, so reports,
explanations and infeasibility diagnoses speak the user's words: each rule builds its row labels
in one method used by all of these. What is known about a row where it is made (its unit, whether
it only defines an auxiliary variable) is passed to the compiler with it (``ctx.add_rows``), and
what is known about a rule (its display name, whether it is an equity rule, the unit of its
bound) is a class attribute: nothing downstream parses a label to recover either. A new kind is
a class here and a member of `Rule`; `KINDS` and `LIST_FIELDS` follow from `Rule`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, ClassVar, Literal, Self, get_args, get_origin

import numpy as np
import scipy.sparse as sp
from pydantic import Field, StrictBool, model_validator

from allocate.domain import commitments
from allocate.domain.columns import application_ids, columns_of, organisations, served_cells
from allocate.domain.errors import InvalidProblemError, Loc
from allocate.domain.money import pounds
from allocate.domain.parts import Round
from allocate.domain.rows import RowBuilder, RowUnit
from allocate.domain.schema import MAX_COUNT, Count, Frozen, Name, Pence, PenceOrZero, field_error
from allocate.domain.tally import Dimension, Tally

Share = Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)]
Sense = Literal["<=", ">="]
CheckUnit = Literal["pence", "awards", "organisations"]
"""The unit of a checked row's achieved and limit values (a share row compares pence with pence)."""
Whom = dict[str, dict[str, str]]
"""How a sentence names each key of each dimension: ``whom["client_group"]["older_people"]``."""


def budget_label(year: int | None = None) -> str:
    """The budget's row label: ``Budget[total]``, or ``Budget[year=1]`` for a year (from 1)."""
    return "Budget[total]" if year is None else f"Budget[year={year}]"


def variants_label(application: str) -> str:
    """The label of the row "at most one option of this application"."""
    return f"Variants[{application}]"


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One row of a rule, checked on an allocation: achieved vs limit."""

    label: str
    sense: Sense
    achieved: float
    limit: float
    unit: CheckUnit = "pence"
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


class RuleBase(Frozen):
    """Shared behaviour of rules, and what each kind of rule is (class attributes)."""

    display_name: ClassVar[str]
    """The kind of rule in words, e.g. "coverage rule" (reports, prices, diagnoses)."""
    equity: ClassVar[bool] = False
    """An equity rule (who gets the money): priced by default by `price_of_rules`."""
    unit: ClassVar[RowUnit | None] = None
    """The unit of the rule's bound, when it has a single one (None: it depends on the bound)."""
    target: ClassVar[bool] = False
    """A spending target (money the round must spend): priced by default by `price_of_rules`."""
    needs: ClassVar[tuple[str, ...]] = ()
    """Fields of which a rule needs at least one (its bounds); the error is placed at the first."""
    needs_text: ClassVar[str | None] = None
    """What the error says is needed (default: the fields, "a, b or c")."""

    @model_validator(mode="after")
    def _something_given(self) -> Self:
        if self.needs and all(getattr(self, f) is None for f in self.needs):
            name = type(self).__name__
            given = self.needs_text or f"{', '.join(self.needs[:-1])} or {self.needs[-1]}"
            raise field_error(name, self.needs[0], f"{name} needs {given}")
        return self

    @property
    def label(self) -> str:
        return type(self).__name__

    def validate_against(self, problem: Round, loc: Loc) -> None:
        """Raise InvalidProblemError if the rule refers to something the problem lacks.

        `loc` is the rule's own location (e.g. ``("Problem", "rules", 2)``); errors name a field
        under it.
        """

    def emit(self, ctx: RowBuilder) -> None:
        raise NotImplementedError

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        raise NotImplementedError

    def at_tolerance(self, tolerance: float) -> Self | None:
        """The rule with its tolerance band at `tolerance`, which `price_of_rules` prices besides the
        rule as given; None for a rule without such a band (the default)."""
        return None

    def sentences(self, problem: Round, whom: Whom) -> dict[str, str]:
        """Each of the rule's rows in plain words (row label -> sentence), money in pounds, shares in
        per cent, built from the rule's own row labels (never by parsing one). `whom` names each key
        of a dimension (``whom["cell"]["Hastings:carers"]`` is "carers in Hastings"). A kind that
        says no more is named by its display name."""
        return {self.label: f"The {self.display_name} {self.label} holds."}

    def _check(
        self,
        label: str,
        sense: Sense,
        achieved: float,
        limit: float,
        *,
        unit: RowUnit | None = None,
        tolerance: float = 0.0,
        can_bind: bool = True,
    ) -> RuleCheck:
        """One checked row, in the unit its compiled row has (default: the rule's own)."""
        row_unit = self.unit if unit is None else unit
        if row_unit is None or row_unit == "value":
            raise TypeError(f"{type(self).__name__}: a checked row needs a unit of money or a count")
        checked: CheckUnit = "pence" if row_unit == "share" else row_unit
        return RuleCheck(label, sense, achieved, limit, checked, tolerance, can_bind)


def _first_up(text: str) -> str:
    return text[:1].upper() + text[1:]


def _plural(n: float, one: str, many: str) -> str:
    return f"{n:g} {one if n == 1 else many}"


def _row(rows: sp.csr_matrix, keys: list[str], key: str | None) -> tuple[sp.csr_matrix, list[str]]:
    """K×n rows (one per key), restricted to one key if given."""
    if key is None:
        return rows, keys
    i = keys.index(key)
    return rows[i : i + 1], [key]


def _each(values: dict[str, int] | dict[str, float], keys: list[str]) -> np.ndarray:
    """``values.get(k, 0)`` for each key, as floats (zeros at once when there are no values)."""
    if not values:
        return np.zeros(len(keys))
    return np.array([values.get(k, 0) for k in keys], dtype=np.float64)


class Pot(RuleBase):
    """A ring-fenced pot (e.g. small grants) for awards whose largest yearly amount is in its band.

    Awards in the band are paid from the pot, at most `amount` in all. When `ring_fenced`,
    the pot's money is not available to other awards: they share `budget.total - amount`.
    """

    display_name: ClassVar[str] = "pot"
    unit: ClassVar[RowUnit] = "pence"

    kind: Literal["pot"] = "pot"
    name: str = "small grants"
    max_per_year: Pence
    amount: Pence
    ring_fenced: StrictBool = True

    @property
    def label(self) -> str:
        return f"Pot[{self.name}]"

    def _row_label(self, rest: bool = False) -> str:
        """The pot's row, or (`rest`) the row of the rest of the budget when ring-fenced."""
        return f"Pot[{self.name}: rest of budget]" if rest else self.label

    def validate_against(self, problem: Round, loc: Loc) -> None:
        if self.amount > problem.budget.total:
            raise InvalidProblemError((*loc, "amount"), "is larger than the whole budget")

    def _in_band(self, profile_max: int) -> bool:
        return profile_max <= self.max_per_year

    def emit(self, ctx: RowBuilder) -> None:
        band = ctx.profile.max(axis=1) <= self.max_per_year
        rows = [np.where(band, ctx.cost, 0.0)]
        labels = [self._row_label()]
        hi = [float(self.amount)]
        if self.ring_fenced:
            rows.append(np.where(band, 0.0, ctx.cost))
            labels.append(self._row_label(rest=True))
            hi.append(float(ctx.problem.budget.total - self.amount))
        ctx.add_rows(labels, -math.inf, hi, unit=self.unit, x=sp.csr_matrix(np.vstack(rows)))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        band = sum(c.cost for c in tally.chosen if self._in_band(max(c.profile)))
        out = [self._check(self._row_label(), "<=", band, self.amount)]
        if self.ring_fenced:
            rest = tally.total - band
            limit = tally.problem.budget.total - self.amount
            out.append(self._check(self._row_label(rest=True), "<=", rest, limit))
        return out

    def sentences(self, problem: Round, whom: Whom) -> dict[str, str]:
        out = {
            self._row_label(): f"Awards of at most {pounds(self.max_per_year)} a year (the {self.name} pot) "
            f"take at most {pounds(self.amount)} in all."
        }
        if self.ring_fenced:
            rest = problem.budget.total - self.amount
            out[self._row_label(rest=True)] = (
                f"Other awards take at most {pounds(rest)}: the budget less the ring-fenced {self.name} pot."
            )
        return out


class Coverage(RuleBase):
    """Bounds on the money, share of money, or number of awards reaching a district,
    client group or district×group cell (``key`` like ``"Hastings:carers"``).

    ``key=None`` applies the bounds to every district / group / cell. Money of awards
    serving several districts or groups is attributed pro rata (see Problem.attribution);
    a count includes every award that serves the key at all.
    """

    display_name: ClassVar[str] = "coverage rule"
    equity: ClassVar[bool] = True

    needs: ClassVar[tuple[str, ...]] = (
        "min_amount", "max_amount", "min_share", "max_share", "min_count", "max_count"
    )  # fmt: skip
    needs_text: ClassVar[str] = "at least one bound (min/max amount, share or count)"

    kind: Literal["coverage"] = "coverage"
    over: Dimension
    key: str | None = None
    min_amount: PenceOrZero | None = None
    max_amount: PenceOrZero | None = None
    min_share: Share | None = None
    max_share: Share | None = None
    min_count: Count | None = None
    max_count: Count | None = None

    def validate_against(self, problem: Round, loc: Loc) -> None:
        if self.key is not None and self.key not in Tally(problem, ()).keys(self.over):
            raise InvalidProblemError((*loc, "key"), f"{self.key!r} is not a {self.over} of the problem")

    @property
    def label(self) -> str:
        return f"Coverage[{self.over}={self.key or '*'}]"

    def _row_label(self, bound: str, key: str) -> str:
        return f"Coverage.{bound}[{self.over}={key}]"

    def _bounds(self) -> list[tuple[str, Sense, float, RowUnit]]:
        """(bound, sense, value, unit) of each bound given."""
        spec: list[tuple[str, Sense, float | None, RowUnit]] = [
            ("min_amount", ">=", self.min_amount, "pence"),
            ("max_amount", "<=", self.max_amount, "pence"),
            ("min_share", ">=", self.min_share, "share"),
            ("max_share", "<=", self.max_share, "share"),
            ("min_count", ">=", self.min_count, "awards"),
            ("max_count", "<=", self.max_count, "awards"),
        ]
        return [(name, sense, float(v), unit) for name, sense, v, unit in spec if v is not None]

    def emit(self, ctx: RowBuilder) -> None:
        keys = ctx.keys(self.over)
        money, used = _row(ctx.money_rows(self.over), keys, self.key)
        served, _ = _row(ctx.serve_rows(self.over), keys, self.key)
        # Commitments counting toward coverage are constants: they shift each row's bound.
        c_money = commitments.attributed(ctx.problem, self.over, "coverage")
        c_count = commitments.serving(ctx.problem, self.over, "coverage")
        c_total = commitments.total(ctx.problem, "coverage")
        for name, sense, v, unit in self._bounds():
            labels = [self._row_label(name, k) for k in used]
            if unit == "pence":
                bound = np.array([v - c_money.get(k, 0.0) for k in used])
            elif unit == "awards":
                bound = np.array([v - c_count.get(k, 0) for k in used], dtype=np.float64)
            else:  # money_k + C_k  vs  v·(T + C)
                bound = np.array([v * c_total - c_money.get(k, 0.0) for k in used])
            lo, hi = (bound, math.inf) if sense == ">=" else (-math.inf, bound)
            if unit == "pence":
                ctx.add_rows(labels, lo, hi, unit=unit, x=money)
            elif unit == "awards":
                ctx.add_rows(labels, lo, hi, unit=unit, x=served)
            else:
                ctx.add_rows(labels, lo, hi, unit=unit, x=money, total=np.full(len(used), -v))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        keys = tally.keys(self.over) if self.key is None else [self.key]
        problem = tally.problem
        c_money = commitments.attributed(problem, self.over, "coverage")
        c_count = commitments.serving(problem, self.over, "coverage")
        c_total = commitments.total(problem, "coverage")
        money = {k: m + c_money.get(k, 0.0) for k, m in tally.attributed(self.over).items()}
        count = {k: n + c_count.get(k, 0) for k, n in tally.serving(self.over).items()}
        out = []
        for name, sense, v, unit in self._bounds():
            for k in keys:
                label = self._row_label(name, k)
                if unit == "pence":
                    out.append(self._check(label, sense, money[k], v, unit=unit, tolerance=tolerance))
                elif unit == "awards":
                    out.append(self._check(label, sense, count[k], v, unit=unit))
                else:
                    limit = v * (tally.total + c_total)
                    out.append(self._check(label, sense, money[k], limit, unit=unit, tolerance=tolerance))
        return out

    def sentences(self, problem: Round, whom: Whom) -> dict[str, str]:
        names = whom[self.over]
        keys = list(names) if self.key is None else [self.key]
        out = {}
        for bound, sense, value, unit in self._bounds():
            least = "at least" if sense == ">=" else "at most"
            for k in keys:
                who = names.get(k, k)
                if unit == "pence":
                    text = f"{who} receives {least} {pounds(value)}."
                elif unit == "share":
                    text = f"{who} receives {least} {value:.1%} of the money awarded."
                else:
                    text = f"{least.capitalize()} {_plural(value, 'award serves', 'awards serve')} {who}."
                out[self._row_label(bound, k)] = _first_up(text)
        return out


class EqualityGap(RuleBase):
    """Each district's (or client group's) share of awarded money stays near its share of need.

    With ``ratio=None`` the share must lie within ``tolerance`` (absolute, e.g. 0.05 = ±5
    percentage points) of the target share; with ``ratio=(lo, hi)`` it must lie within
    lo × target .. hi × target. Targets come from District.need or District.population
    (``basis``), or ClientGroup.need; over tags they are declared (``target_shares``: tag -> share
    of awarded money, e.g. ``{"user-led": 0.2}``), since an award may carry several tags or
    none, and only the declared tags are bounded.
    """

    display_name: ClassVar[str] = "equality gap rule"
    equity: ClassVar[bool] = True
    unit: ClassVar[RowUnit] = "share"

    kind: Literal["equality_gap"] = "equality_gap"
    over: Literal["district", "client_group", "tag"] = "district"
    basis: Literal["need", "population"] = "need"
    target_shares: dict[Name, Share] | None = None
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

    def _row_label(self, side: Literal["low", "high"], key: str) -> str:
        return f"EqualityGap.{side}[{self.over}={key}]"

    def validate_against(self, problem: Round, loc: Loc) -> None:
        if self.over == "client_group" and self.basis == "population":
            raise InvalidProblemError((*loc, "basis"), "client groups have no population; use 'need'")
        if self.over == "tag":
            if not self.target_shares:
                raise InvalidProblemError((*loc, "target_shares"), "over='tag' needs declared target shares")
            known = set(problem.tags)
            for tag in self.target_shares:
                if tag not in known:
                    raise InvalidProblemError(
                        (*loc, "target_shares", tag), f"{tag!r} is not a tag of the problem"
                    )
        elif self.target_shares is not None:
            raise InvalidProblemError((*loc, "target_shares"), "are declared only over='tag'")
        if self.ratio is not None and self.ratio[0] > self.ratio[1]:
            raise InvalidProblemError((*loc, "ratio"), "lower ratio exceeds the upper one")

    def targets(self, problem: Round) -> dict[str, float]:
        """Each key's target share of awarded money (sums to 1 except over tags: as declared)."""
        if self.over == "tag":
            declared = self.target_shares or {}
            return {t: declared[t] for t in problem.tags if t in declared}
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

    def at_tolerance(self, tolerance: float) -> EqualityGap | None:
        """This rule at another tolerance (validated as given); None for a ratio band."""
        if self.ratio is not None:
            return None
        return EqualityGap.model_validate({**self.model_dump(), "tolerance": tolerance})

    def emit(self, ctx: RowBuilder) -> None:
        targets = self.targets(ctx.problem)
        all_keys = ctx.keys(self.over)
        keys = [k for k in all_keys if k in targets]
        money = ctx.money_rows(self.over)
        if len(keys) < len(all_keys):
            money = money[[all_keys.index(k) for k in keys]]
        lows, highs = zip(*(self.band(targets[k]) for k in keys), strict=True)
        low = [self._row_label("low", k) for k in keys]
        high = [self._row_label("high", k) for k in keys]
        # money_k + C_k vs share·(T + C), with committed money C counting toward equality gaps.
        c_money = commitments.attributed(ctx.problem, self.over, "equality_gap")
        c_total = commitments.total(ctx.problem, "equality_gap")
        c_k = np.array([c_money.get(k, 0.0) for k in keys])
        lo = np.array(lows) * c_total - c_k
        hi = np.array(highs) * c_total - c_k
        ctx.add_rows(low, lo, math.inf, unit=self.unit, x=money, total=-np.array(lows))
        ctx.add_rows(high, -math.inf, hi, unit=self.unit, x=money, total=-np.array(highs))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        c_money = commitments.attributed(tally.problem, self.over, "equality_gap")
        whole = tally.total + commitments.total(tally.problem, "equality_gap")
        money = {k: m + c_money.get(k, 0.0) for k, m in tally.attributed(self.over).items()}
        out = []
        for k, t in self.targets(tally.problem).items():
            lo, hi = self.band(t)
            out.append(
                self._check(self._row_label("low", k), ">=", money[k], lo * whole, tolerance=tolerance)
            )
            out.append(
                self._check(self._row_label("high", k), "<=", money[k], hi * whole, tolerance=tolerance)
            )
        return out

    def sentences(self, problem: Round, whom: Whom) -> dict[str, str]:
        names = whom[self.over]
        basis = "population" if self.basis == "population" else "need"
        if self.over == "tag":
            basis = "the money (declared target)"
        out = {}
        for k, target in self.targets(problem).items():
            lo, hi = self.band(target)
            if self.ratio is None:
                width = f"{self.tolerance * 100:g} pp"
                low_why, high_why = f"less {width}", f"plus {width}"
            else:
                low_why, high_why = f"× {self.ratio[0]:g}", f"× {self.ratio[1]:g}"
            who = names.get(k, k)
            out[self._row_label("low", k)] = (
                f"{who}'s share of the money is at least {max(lo, 0):.1%} "
                f"(its share of {basis}, {target:.1%}, {low_why})."
            )
            out[self._row_label("high", k)] = (
                f"{who}'s share of the money is at most {min(hi, 1):.1%} "
                f"(its share of {basis}, {target:.1%}, {high_why})."
            )
        return {k: _first_up(v) for k, v in out.items()}


class NoNewGaps(RuleBase):
    """Every district×group cell served today keeps at least one award.

    Cells served today are those of applications marked ``continues_service`` (as
    submitted), unless ``cells`` lists them explicitly (keys like ``"Hastings:carers"``).
    County-wide awards serve every district.
    """

    display_name: ClassVar[str] = "no-new-gaps rule"
    equity: ClassVar[bool] = True
    unit: ClassVar[RowUnit] = "awards"

    kind: Literal["no_new_gaps"] = "no_new_gaps"
    cells: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        return "NoNewGaps"

    def _row_label(self, cell: str) -> str:
        return f"NoNewGaps[{cell}]"

    def served_today(self, problem: Round) -> list[str]:
        if self.cells is not None:
            return list(self.cells)
        keys = Tally(problem, ()).keys("cell")
        served = np.zeros(len(keys), dtype=bool)
        application = columns_of(problem)
        continuing = np.flatnonzero(application.continues_service)
        served[served_cells(application, continuing, len(problem.districts), len(problem.client_groups))] = (
            True
        )
        kept = commitments.serving(problem, "cell", None)  # commitments serve cells today
        if kept:
            position = {k: i for i, k in enumerate(keys)}
            served[[position[k] for k in kept]] = True
        return [keys[i] for i in np.flatnonzero(served).tolist()]

    def validate_against(self, problem: Round, loc: Loc) -> None:
        known = set(Tally(problem, ()).keys("cell"))
        for i, k in enumerate(self.cells or ()):
            if k not in known:
                raise InvalidProblemError((*loc, "cells", i), f"{k!r} is not a 'district:client_group' cell")

    def emit(self, ctx: RowBuilder) -> None:
        keys = ctx.keys("cell")
        cells = self.served_today(ctx.problem)
        if not cells:
            return
        position = {k: i for i, k in enumerate(keys)}
        served = ctx.serve_rows("cell")[[position[k] for k in cells]]
        # A commitment serving a cell keeps it served: its row's bound drops by one per commitment.
        kept = commitments.serving(ctx.problem, "cell", None)
        lo = np.array([1.0 - kept.get(k, 0) for k in cells])
        ctx.add_rows([self._row_label(k) for k in cells], lo, math.inf, unit=self.unit, x=served)

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        count = tally.serving("cell")
        kept = commitments.serving(tally.problem, "cell", None)
        return [
            self._check(self._row_label(k), ">=", count[k] + kept.get(k, 0), 1)
            for k in self.served_today(tally.problem)
        ]

    def sentences(self, problem: Round, whom: Whom) -> dict[str, str]:
        cells = whom["cell"]
        return {
            self._row_label(k): _first_up(f"{cells.get(k, k)}, served today, keep at least one award.")
            for k in self.served_today(problem)
        }


class OrganisationCap(RuleBase):
    """Limits per organisation: money, share of all awarded money, number of awards.

    ``organisation=None`` applies the caps to every organisation, or, with ``tag``, to every
    organisation carrying that tag (``Problem.organisations``), e.g. each national charity.
    """

    display_name: ClassVar[str] = "organisation cap"
    equity: ClassVar[bool] = True

    needs: ClassVar[tuple[str, ...]] = ("max_amount", "max_share", "max_awards")

    kind: Literal["organisation_cap"] = "organisation_cap"
    organisation: str | None = None
    max_amount: PenceOrZero | None = None
    max_share: Share | None = None
    max_awards: Count | None = None
    tag: Name | None = None

    @property
    def label(self) -> str:
        if self.tag is not None and self.organisation is None:
            return f"OrganisationCap[tag={self.tag}]"
        return f"OrganisationCap[{self.organisation or '*'}]"

    def _row_label(self, cap: Literal["max_amount", "max_share", "max_awards"], organisation: str) -> str:
        return f"OrganisationCap.{cap}[{organisation}]"

    def validate_against(self, problem: Round, loc: Loc) -> None:
        if self.organisation is not None and self.organisation not in organisations(problem):
            raise InvalidProblemError(
                (*loc, "organisation"), f"no application comes from {self.organisation!r}"
            )
        if self.tag is not None and self.tag not in {t for o in problem.organisations for t in o.tags}:
            raise InvalidProblemError((*loc, "tag"), f"no organisation carries the tag {self.tag!r}")

    def _selected(self, problem: Round, organisations: list[str]) -> list[str]:
        """The organisations capped: the one named, or every one (carrying `tag`, if given)."""
        if self.organisation is not None:
            organisations = [self.organisation]
        if self.tag is None:
            return organisations
        tagged = {o.id for o in problem.organisations if self.tag in o.tags}
        return [o for o in organisations if o in tagged]

    def emit(self, ctx: RowBuilder) -> None:
        orgs = ctx.organisations
        used = self._selected(ctx.problem, orgs)
        incidence = ctx.org_matrix.T.tocsr()
        if len(used) < len(orgs):
            position = {o: i for i, o in enumerate(orgs)}
            incidence = incidence[[position[o] for o in used]]
        money = incidence.multiply(ctx.cost[None, :]).tocsr()
        # Commitments counting toward caps are constants: whole pence and whole awards.
        c_money, c_count = commitments.by_organisation(ctx.problem, "organisation_cap")
        c_total = commitments.total(ctx.problem, "organisation_cap")
        committed = _each(c_money, used)  # whole pence: every difference below is exact
        if self.max_amount is not None:
            labels = [self._row_label("max_amount", o) for o in used]
            ctx.add_rows(labels, -math.inf, float(self.max_amount) - committed, unit="pence", x=money)
        if self.max_share is not None:
            labels = [self._row_label("max_share", o) for o in used]
            share = np.full(len(used), -self.max_share)
            hi = self.max_share * c_total - committed
            ctx.add_rows(labels, -math.inf, hi, unit="share", x=money, total=share)
        if self.max_awards is not None:
            labels = [self._row_label("max_awards", o) for o in used]
            hi = float(self.max_awards) - _each(c_count, used)
            ctx.add_rows(labels, -math.inf, hi, unit="awards", x=incidence)

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        money, count = tally.by_organisation()
        orgs = self._selected(tally.problem, sorted(money))
        c_money, c_count = commitments.by_organisation(tally.problem, "organisation_cap")
        money = {o: m + c_money.get(o, 0) for o, m in money.items()}
        count = {o: n + c_count.get(o, 0) for o, n in count.items()}
        whole = tally.total + commitments.total(tally.problem, "organisation_cap")
        out = []
        for o in orgs:
            if self.max_amount is not None:
                label = self._row_label("max_amount", o)
                out.append(self._check(label, "<=", money[o], self.max_amount, unit="pence"))
            if self.max_share is not None:
                limit = self.max_share * whole
                label = self._row_label("max_share", o)
                out.append(self._check(label, "<=", money[o], limit, unit="share", tolerance=tolerance))
            if self.max_awards is not None:
                label = self._row_label("max_awards", o)
                out.append(self._check(label, "<=", count[o], self.max_awards, unit="awards"))
        return out

    def sentences(self, problem: Round, whom: Whom) -> dict[str, str]:
        orgs = self._selected(problem, sorted({a.organisation for a in problem.applications}))
        out = {}
        for o in orgs:
            if self.max_amount is not None:
                out[self._row_label("max_amount", o)] = f"{o} receives at most {pounds(self.max_amount)}."
            if self.max_share is not None:
                out[self._row_label("max_share", o)] = (
                    f"{o} receives at most {self.max_share:.1%} of the money awarded."
                )
            if self.max_awards is not None:
                out[self._row_label("max_awards", o)] = (
                    f"{o} receives at most {_plural(self.max_awards, 'award', 'awards')}."
                )
        return out


class MinOrganisations(RuleBase):
    """At least ``count`` distinct organisations receive an award."""

    display_name: ClassVar[str] = "minimum number of organisations"
    equity: ClassVar[bool] = True
    unit: ClassVar[RowUnit] = "organisations"

    kind: Literal["min_organisations"] = "min_organisations"
    count: Annotated[int, Field(strict=True, ge=1, le=MAX_COUNT)]

    @property
    def label(self) -> str:
        return "MinOrganisations"

    def _row_label(self, link: str | None = None) -> str:
        """The rule's row, or the row linking organisation `link`'s awards to its "funded" variable."""
        return self.label if link is None else f"MinOrganisations.link[{link}]"

    def emit(self, ctx: RowBuilder) -> None:
        n_org = len(ctx.organisations)
        start = ctx.add_aux([f"funded[{o}]" for o in ctx.organisations])
        link = sp.hstack([ctx.org_matrix.T, -sp.identity(n_org)]).tocsr()
        # awards of o − funded[o] ≥ 0 only defines funded[o]: structural, never a clash on its own.
        ctx.add_rows(
            [self._row_label(o) for o in ctx.organisations],
            0.0,
            math.inf,
            unit="awards",
            structural=True,
            x=link[:, : ctx.n],
            aux=(start, link[:, ctx.n :]),
        )
        ones = sp.csr_matrix(np.ones((1, n_org)))
        ctx.add_rows([self._row_label()], float(self.count), math.inf, unit=self.unit, aux=(start, ones))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        funded = len({c.organisation for c in tally.chosen})
        return [self._check(self._row_label(), ">=", funded, self.count)]

    def sentences(self, problem: Round, whom: Whom) -> dict[str, str]:
        return {self._row_label(): f"At least {self.count} organisations receive an award."}


class PassMark(RuleBase):
    """Only candidates scoring at least the pass mark may be funded (variants use their own scores).

    ``min_social`` applies to the plain mean of the social-capital scores.
    """

    display_name: ClassVar[str] = "pass mark"
    unit: ClassVar[RowUnit] = "awards"

    needs: ClassVar[tuple[str, ...]] = ("min_outcome", "min_social")

    kind: Literal["pass_mark"] = "pass_mark"
    min_outcome: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)] | None = None
    min_social: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)] | None = None

    @property
    def label(self) -> str:
        return "PassMark"

    def validate_against(self, problem: Round, loc: Loc) -> None:
        if self.min_outcome is not None and self.min_outcome > problem.scale.outcome_max:
            raise InvalidProblemError((*loc, "min_outcome"), "is above the outcome scale maximum")
        if self.min_social is not None and self.min_social > problem.scale.social_max:
            raise InvalidProblemError((*loc, "min_social"), "is above the social scale maximum")

    def fails(self, outcome: float, social: tuple[float, ...]) -> bool:
        low_outcome = self.min_outcome is not None and outcome < self.min_outcome
        low_social = self.min_social is not None and math.fsum(social) / len(social) < self.min_social
        return low_outcome or low_social

    def emit(self, ctx: RowBuilder) -> None:
        failing = np.zeros(ctx.n, dtype=bool)
        if self.min_outcome is not None:
            failing |= ctx.outcome < self.min_outcome
        if self.min_social is not None:
            # numpy's mean may differ from the verifier's fsum in the last bit: candidates whose
            # mean is that close to the mark are decided by `fails` itself, as the verifier does.
            mean = ctx.social.mean(axis=1)
            failing |= mean < self.min_social
            close = np.flatnonzero(np.abs(mean - self.min_social) <= 1e-9 * max(1.0, self.min_social))
            for j in close.tolist():
                failing[j] = self.fails(float(ctx.outcome[j]), tuple(ctx.social[j].tolist()))
        row = sp.csr_matrix(failing.astype(float)[None, :])
        ctx.add_rows([self.label], -math.inf, 0.0, unit=self.unit, x=row)

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        failing = sum(1 for c in tally.chosen if self.fails(c.outcome_score, c.social_scores))
        return [self._check(self.label, "<=", failing, 0, can_bind=False)]

    def sentences(self, problem: Round, whom: Whom) -> dict[str, str]:
        marks = []
        if self.min_outcome is not None:
            marks.append(f"an outcome score under {self.min_outcome:g}")
        if self.min_social is not None:
            marks.append(f"a mean social-value score under {self.min_social:g}")
        return {self.label: f"No bid with {' or '.join(marks)} (the pass mark) is funded."}


def _require_app(problem: Round, app_id: str, loc: Loc) -> None:
    if app_id not in application_ids(problem):
        raise InvalidProblemError(loc, f"unknown application {app_id!r}")


class Lock(RuleBase):
    """Must fund (``fund=True``) or must not fund an application.

    With ``variant`` set, must fund exactly that option: a variant id, or the
    application's own id for the application as submitted.
    """

    display_name: ClassVar[str] = "lock"
    unit: ClassVar[RowUnit] = "awards"

    kind: Literal["lock"] = "lock"
    application: str
    fund: StrictBool = True
    variant: str | None = None

    @property
    def label(self) -> str:
        target = self.application if self.variant is None else f"{self.application}/{self.variant}"
        return f"Lock[{'fund' if self.fund else 'exclude'} {target}]"

    def validate_against(self, problem: Round, loc: Loc) -> None:
        _require_app(problem, self.application, (*loc, "application"))
        if self.variant is not None:
            if not self.fund:
                raise InvalidProblemError((*loc, "variant"), "only applies with fund=True")
            app = problem.application(self.application)
            if self.variant not in {app.id, *(v.id for v in app.variants)}:
                raise InvalidProblemError(
                    (*loc, "variant"), f"{self.variant!r} is not an option of {app.id!r}"
                )

    def _targets(self, ctx: RowBuilder) -> np.ndarray:
        options = ctx.options_of(self.application)
        if self.variant is None:
            return options
        variant = None if self.variant == self.application else self.variant
        return np.array([ctx.candidate(self.application, variant)])

    def emit(self, ctx: RowBuilder) -> None:
        row = np.zeros((1, ctx.n))
        row[0, self._targets(ctx)] = 1.0
        lo, hi = (1.0, math.inf) if self.fund else (-math.inf, 0.0)
        ctx.add_rows([self.label], lo, hi, unit=self.unit, x=sp.csr_matrix(row))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        def hit(app: str, var: str | None) -> bool:
            if app != self.application:
                return False
            return self.variant is None or (var or app) == self.variant

        n = sum(1 for c in tally.chosen if hit(c.application.id, c.variant_id))
        if self.fund:
            return [self._check(self.label, ">=", n, 1)]
        return [self._check(self.label, "<=", n, 0, can_bind=False)]

    def sentences(self, problem: Round, whom: Whom) -> dict[str, str]:
        if not self.fund:
            return {self.label: f"Application {self.application} is not funded (excluded by the round)."}
        option = "" if self.variant in (None, self.application) else f" as variant {self.variant}"
        return {self.label: f"Application {self.application} is funded{option} (locked in by the round)."}


class Exclusive(RuleBase):
    """At most ``at_most`` of these applications may be funded (e.g. duplicate bids)."""

    display_name: ClassVar[str] = "exclusive choice"
    unit: ClassVar[RowUnit] = "awards"

    kind: Literal["exclusive"] = "exclusive"
    applications: tuple[str, ...] = Field(min_length=2)
    at_most: Annotated[int, Field(strict=True, ge=1, le=MAX_COUNT)] = 1

    @property
    def label(self) -> str:
        return f"Exclusive[{','.join(self.applications)}]"

    def validate_against(self, problem: Round, loc: Loc) -> None:
        for i, a in enumerate(self.applications):
            _require_app(problem, a, (*loc, "applications", i))
        if len(set(self.applications)) != len(self.applications):
            raise InvalidProblemError((*loc, "applications"), "lists an application twice")

    def emit(self, ctx: RowBuilder) -> None:
        row = np.zeros((1, ctx.n))
        for a in self.applications:
            row[0, ctx.options_of(a)] = 1.0
        ctx.add_rows([self.label], -math.inf, float(self.at_most), unit=self.unit, x=sp.csr_matrix(row))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        n = sum(1 for c in tally.chosen if c.application.id in self.applications)
        return [self._check(self.label, "<=", n, self.at_most)]

    def sentences(self, problem: Round, whom: Whom) -> dict[str, str]:
        verb = "is" if self.at_most == 1 else "are"
        return {
            self.label: f"At most {self.at_most} of applications {', '.join(self.applications)} {verb} funded."
        }


class Requires(RuleBase):
    """``application`` may be funded only if ``requires`` is funded too."""

    display_name: ClassVar[str] = "requirement"
    unit: ClassVar[RowUnit] = "awards"

    kind: Literal["requires"] = "requires"
    application: str
    requires: str

    @property
    def label(self) -> str:
        return f"Requires[{self.application}->{self.requires}]"

    def validate_against(self, problem: Round, loc: Loc) -> None:
        _require_app(problem, self.application, (*loc, "application"))
        _require_app(problem, self.requires, (*loc, "requires"))
        if self.application == self.requires:
            raise InvalidProblemError((*loc, "requires"), "an application cannot require itself")

    def emit(self, ctx: RowBuilder) -> None:
        row = np.zeros((1, ctx.n))
        row[0, ctx.options_of(self.application)] = 1.0
        row[0, ctx.options_of(self.requires)] = -1.0
        ctx.add_rows([self.label], -math.inf, 0.0, unit=self.unit, x=sp.csr_matrix(row))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        ids = [c.application.id for c in tally.chosen]
        n = ids.count(self.application) - ids.count(self.requires)
        return [self._check(self.label, "<=", n, 0)]

    def sentences(self, problem: Round, whom: Whom) -> dict[str, str]:
        return {
            self.label: f"Application {self.application} is funded only if {self.requires} is funded too."
        }


SpendBound = Literal["min_amount", "min_share"]


class MinSpend(RuleBase):
    """Spend at least an amount, or a share of the budget: in total, in one year, or in every year.

    ``year="total"`` bounds all money awarded (against ``budget.total``); ``year=2`` the money
    paid in the second budget year (against that year's limit); ``year="each"`` every year.
    A share is of the budget, a known amount, so its bound is exact whole pence: at least
    ⌈share × budget⌉, with the share read as the decimal it is written as (0.1 is one tenth,
    not the binary float just above it) and the product computed in fractions.
    """

    display_name: ClassVar[str] = "minimum spend"
    target: ClassVar[bool] = True
    unit: ClassVar[RowUnit] = "pence"

    needs: ClassVar[tuple[str, ...]] = ("min_amount", "min_share")

    kind: Literal["min_spend"] = "min_spend"
    year: Annotated[int, Field(strict=True, ge=1, le=100)] | Literal["total", "each"] = "total"
    min_amount: PenceOrZero | None = None
    min_share: Share | None = None

    @property
    def label(self) -> str:
        return f"MinSpend[{self._scope()}]"

    def _scope(self) -> str:
        return (
            "each year" if self.year == "each" else "total" if self.year == "total" else f"year={self.year}"
        )

    def _row_label(self, bound: SpendBound, year: int | None) -> str:
        return f"MinSpend.{bound}[{'total' if year is None else f'year={year}'}]"

    def validate_against(self, problem: Round, loc: Loc) -> None:
        years = problem.budget.years
        if isinstance(self.year, int) and self.year > years:
            raise InvalidProblemError(
                (*loc, "year"), f"is year {self.year} but the budget has {years} year(s)"
            )

    def _years(self, problem: Round) -> list[int | None]:
        """The scopes bounded: None for the total, else budget years counted from 1."""
        if self.year == "total":
            return [None]
        if self.year == "each":
            return list(range(1, problem.budget.years + 1))
        return [self.year]

    def limits(self, problem: Round) -> list[tuple[SpendBound, int | None, int]]:
        """(bound, year or None, least pence) of each row: exact whole pence."""
        budget = problem.budget
        out: list[tuple[SpendBound, int | None, int]] = []
        for y in self._years(problem):
            available = budget.total if y is None or budget.per_year is None else budget.per_year[y - 1]
            if self.min_amount is not None:
                out.append(("min_amount", y, self.min_amount))
            if self.min_share is not None:
                out.append(("min_share", y, math.ceil(Fraction(repr(self.min_share)) * available)))
        return out

    def emit(self, ctx: RowBuilder) -> None:
        committed = commitments.per_year(ctx.problem, "min_spend")
        for bound, y, least in self.limits(ctx.problem):
            x = ctx.cost if y is None else ctx.profile[:, y - 1].astype(np.float64)
            label = self._row_label(bound, y)
            least -= sum(committed) if y is None else committed[y - 1]  # spent already: exact pence
            ctx.add_rows([label], float(least), math.inf, unit=self.unit, x=sp.csr_matrix(x[None, :]))

    def check(self, tally: Tally, tolerance: float) -> list[RuleCheck]:
        committed = commitments.per_year(tally.problem, "min_spend")
        per_year = [s + c for s, c in zip(tally.per_year(), committed, strict=True)]
        out = []
        for bound, y, least in self.limits(tally.problem):
            spent = tally.total + sum(committed) if y is None else per_year[y - 1]
            out.append(self._check(self._row_label(bound, y), ">=", spent, least))
        return out

    def sentences(self, problem: Round, whom: Whom) -> dict[str, str]:
        out = {}
        for bound, year, least in self.limits(problem):
            when = "in all" if year is None else f"in year {year}"
            share = (
                ""
                if self.min_share is None or bound != "min_share"
                else f" ({self.min_share:.1%} of the budget)"
            )
            out[self._row_label(bound, year)] = f"At least {pounds(least)} is awarded {when}{share}."
        return out


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
    | Requires
    | MinSpend,
    Field(discriminator="kind"),
]
"""Any rule; in JSON a rule is an object with a ``kind`` field (e.g. ``"coverage"``)."""


KINDS: tuple[type[RuleBase], ...] = get_args(get_args(Rule)[0])
"""Every kind of rule, in the order of `Rule`."""


def _holds_a_list(annotation: object) -> bool:
    return get_origin(annotation) is tuple or any(get_origin(a) is tuple for a in get_args(annotation))


LIST_FIELDS = frozenset(
    name for kind in KINDS for name, field in kind.model_fields.items() if _holds_a_list(field.annotation)
)
"""The fields of any kind that hold a list: in a rules table, a cell of ``;``-separated items."""
