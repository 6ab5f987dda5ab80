"""Differential fuzzing of the backends: random valid rounds, and a verdict per round.

`fuzz_rounds()` draws larger, wilder rounds than `strategies.problems()`: 5-40 applications,
every rule kind in every form, money from 1 penny to £10bn (log-uniform and round numbers),
1-3 budget years, and exact ties (equal costs and scores, share bounds met exactly by a
"witness" allocation, a pass mark equal to an option's own mean score). There is no brute
force at this size, so the backends are compared with each other: `classify()` solves a
round with each one and names every answer that cannot be right.

One generator (`build_round`) has two sources of choices: hypothesis draws (`fuzz_rounds`,
for the tests) and a seeded `random.Random` (`seeded_round(seed, i)`, for long runs:
about 6 ms a round instead of 60-90 ms, the same round i whatever N, and no runs of
near-copies from hypothesis's mutation of earlier examples).

Rounds are built as plain JSON-style dicts and validated once at the end, so that money
the library refuses (an `InvalidProblemError` on a money field, e.g. a budget beyond
allocate.domain.schema's MAX_PENCE) still makes a round: it comes out as the dict, and `solve()`
refuses it. A refusal for any other reason is a bug here and is raised.

Values are compared with ``math.isclose(rel_tol=1e-6, abs_tol=1e-6)``, as in
test_properties.close: values are float sums that differ in the last bits between
solvers and summation orders, and solvers stop within their own tiny gap tolerances. A
missed award changes the value by that award's value, far above 1e-6 relative unless
that award is itself worth next to nothing next to the whole round (then it goes unseen).
"""

from __future__ import annotations

import functools
import math
import random
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeAlias, TypeVar

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

import allocate
from allocate import InvalidProblemError, Problem, VerificationError
from strategies import (
    DISTRICTS,
    GAP_TOLERANCES,
    GROUPS,
    MAX_SHARES,
    MIN_SHARES,
    ORGS,
    RATIOS,
    RULE_KINDS,
    TIE_SHARES,
    VALUE_FORMS,
    integer,
    maybe,
    pick,
    score,
    scores,
    split,
    subset,
)

T = TypeVar("T")
Round: TypeAlias = Problem | dict[str, Any]
"""A generated round: a validated Problem, or its dict when the library refuses its money."""

REL = 1e-6
"""Relative (and absolute) tolerance on values; see the module docstring."""
SLOW_SECONDS = 5.0
FAST_SECONDS = 1.0
"""A run is slow when it takes more than SLOW_SECONDS while another backend answered in FAST_SECONDS."""

MAX_PENCE = 10**12
MONEY_RANGES = ((0, 4), (2, 6), (5, 8), (5, 8), (8, 12), (0, 12), (0, 12))
"""Decades of pence a round's costs are drawn from (log-uniform): pennies, typical grants, huge, mixed."""
FUZZ_DISTRICTS = (*DISTRICTS, "Eastbourne")
FUZZ_GROUPS = (*GROUPS, "mental_health")
FUZZ_ORGS = (*ORGS, "Org 6", "Org 7", "Org 8")
FUZZ_TAGS = ("user-led", "new provider", "small", "équité")
BUDGET_FRACTIONS = (0.02, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0, 1.5)
MONEY_FRACTIONS = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0)
SMALL_FRACTIONS = (0.0, 0.01, 0.05, 0.1)
OUTCOME_MAXIMA = (1.0, 5.0, 7.0, 10.0, 100.0)
SOCIAL_MAXIMA = (1.0, 3.0, 5.0, 10.0)
MONEY_FIELD = re.compile(r"cost|total|per_year|amount")
"""Fields whose refusal may be a money-range refusal rather than a bug of the generator."""
STRUCTURAL = re.compile(
    r"sums to|sum to|years but|must be >= 0|larger than the whole budget|unknown|duplicate"
)
"""Reasons the library gives for malformed money fields: a bug of the generator, never a range refusal."""


def is_money_refusal(exc: InvalidProblemError) -> bool:
    """The library refuses a money amount as out of its supported range (not a malformed round)."""
    return bool(MONEY_FIELD.search(exc.field)) and not STRUCTURAL.search(exc.reason)


def close(a: float, b: float) -> bool:
    """Equal values to within REL (relative or absolute)."""
    return math.isclose(a, b, rel_tol=REL, abs_tol=REL)


# --------------------------------------------------------------------------- sources of randomness
class Source(Protocol):
    """Where the generator's choices come from: hypothesis draws, or a seeded random.Random."""

    def integer(self, lo: int, hi: int) -> int: ...
    def pick(self, items: Sequence[T]) -> T: ...
    def maybe(self) -> bool: ...
    def fraction(self) -> float: ...
    def subset(self, items: Sequence[str], lo: int, hi: int) -> tuple[str, ...]: ...
    def score(self, top: float) -> float: ...
    def scores(self, top: float, n: int) -> tuple[float, ...]: ...
    def money(self, lo: int, hi: int) -> int: ...


def _clip(pence: float) -> int:
    return int(min(MAX_PENCE, max(1, round(pence))))


def _round_number(mantissa: int, decade: int) -> int:
    """1, 2, 2.5 or 5 (mantissa 10, 20, 25, 50) times 10**decade pence."""
    return _clip(mantissa * 10**decade // 10)


@functools.cache
def _money(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Pence in 10**lo..10**hi: log-uniform, or a round number, or an end of the range."""
    log_uniform = st.floats(lo, hi).map(lambda e: _clip(10.0**e))
    round_number = st.tuples(st.sampled_from(MANTISSAS), st.integers(lo, hi)).map(lambda t: _round_number(*t))
    return st.one_of(log_uniform, round_number, st.sampled_from((_clip(10.0**lo), _clip(10.0**hi))))


MANTISSAS = (10, 20, 25, 50)
_FRACTION = st.floats(0.0, 1.0)


class HypothesisSource:
    """Choices drawn by hypothesis (shrinkable; used by `fuzz_rounds`), via the helpers of strategies.py."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return integer(self.draw, lo, hi)

    def pick(self, items: Sequence[T]) -> T:
        return pick(self.draw, items)

    def maybe(self) -> bool:
        return maybe(self.draw)

    def fraction(self) -> float:
        return self.draw(_FRACTION)

    def subset(self, items: Sequence[str], lo: int, hi: int) -> tuple[str, ...]:
        return subset(self.draw, items, lo, hi)

    def score(self, top: float) -> float:
        return score(self.draw, top)

    def scores(self, top: float, n: int) -> tuple[float, ...]:
        return scores(self.draw, top, n)

    def money(self, lo: int, hi: int) -> int:
        return self.draw(_money(lo, hi))


class RandomSource:
    """Choices from a seeded random.Random: about 100 times faster than hypothesis draws, and with
    no mutation of earlier examples, so every round of a long run is a fresh one."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def pick(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def maybe(self) -> bool:
        return self.rng.random() < 0.5

    def fraction(self) -> float:
        return self.pick((0.0, 1.0)) if self.rng.random() < 0.05 else self.rng.random()

    def subset(self, items: Sequence[str], lo: int, hi: int) -> tuple[str, ...]:
        if not items:
            return ()
        return tuple(self.rng.sample(list(items), self.rng.randint(lo, min(hi, len(items)))))

    def score(self, top: float) -> float:
        r = self.rng.random()
        if r < 0.5:
            return self.rng.randint(0, int(2 * top)) / 2
        if r < 0.55:
            return self.pick((0.0, top, 5e-324, 1e-300))
        return self.rng.uniform(0.0, top)

    def scores(self, top: float, n: int) -> tuple[float, ...]:
        return tuple(self.score(top) for _ in range(n))

    def money(self, lo: int, hi: int) -> int:
        r = self.rng.random()
        if r < 0.6:
            return _clip(10.0 ** self.rng.uniform(lo, hi))
        if r < 0.9:
            return _round_number(self.pick(MANTISSAS), self.rng.randint(lo, hi))
        return _clip(10.0 ** self.pick((lo, hi)))


# --------------------------------------------------------------------------- rounds
@st.composite
def fuzz_rounds(draw: st.DrawFn, min_apps: int = 5, max_apps: int = 40, max_rules: int = 8) -> Round:
    """A random valid round for differential testing (see the module docstring)."""
    return build_round(HypothesisSource(draw), min_apps, max_apps, max_rules)


def seeded_round(seed: int, index: int) -> Round:
    """Round `index` of the run with this seed: the same on every machine and Python, whatever N."""
    return build_round(RandomSource(random.Random(f"allocate-fuzz:{seed}:{index}")))


def build_round(src: Source, min_apps: int = 5, max_apps: int = 40, max_rules: int = 8) -> Round:
    """A random valid round: geography, scores, applications with variants, a budget, then rules.

    Rules are drawn last, with bounds relative to the round's money. A random "witness"
    allocation is measured with `allocate.verify`, and some bounds (coverage amounts and
    shares, organisation caps, the budget) are set to exactly what the witness achieves.
    """
    ties = src.maybe()  # this round favours exact ties
    d_ids = list(FUZZ_DISTRICTS[: src.integer(1, len(FUZZ_DISTRICTS))])
    g_ids = list(FUZZ_GROUPS[: src.integer(1, len(FUZZ_GROUPS))])
    pop_mode = src.pick(["small", "wide", "equal"])
    districts = [
        {
            "id": d,
            "population": _population(src, pop_mode),
            "need": src.pick([0.5, 1.0, 1.5, 2.0, 3.0]) if ties or src.maybe() else 0.01 + 4 * src.fraction(),
        }
        for d in d_ids
    ]
    groups = [{"id": g, "need": src.pick([0.5, 1.0, 2.0, 3.0])} for g in g_ids]
    years = src.integer(1, 3)
    scale = {"outcome_max": src.pick(OUTCOME_MAXIMA), "social_max": src.pick(SOCIAL_MAXIMA)}
    n_social = src.integer(1, 6)
    value_form = src.pick(VALUE_FORMS)
    omega = None
    if src.maybe():
        omega = [src.pick([0.0, 0.5, 1.0, 2.0]) for _ in range(n_social)]
        if not any(omega):
            omega[-1] = 1.0
    weights = {
        "social_value_share": src.pick([0.0, 0.1, 0.2, 0.3, 0.5, 1.0]) if src.maybe() else src.fraction(),
        "social_objective_weights": omega,
        "value_form": value_form,
    }
    n_apps = src.integer(min_apps, max_apps)
    orgs = FUZZ_ORGS[: src.integer(1, min(len(FUZZ_ORGS), n_apps))]
    money = src.pick(MONEY_RANGES)
    short_ids = src.maybe()  # variant ids "v0", "v1" in every application, as in real rounds
    apps: list[dict[str, Any]] = []
    for i in range(n_apps):
        twin = apps[src.integer(0, len(apps) - 1)] if apps and src.integer(0, 3) == 0 else None
        app = _application(src, f"A{i + 1}", twin, money, years, scale, n_social, d_ids, g_ids, short_ids)
        app["organisation"] = src.pick(orgs)
        app["beneficiaries"] = (
            _beneficiaries(src) if value_form == "score_beneficiaries" or src.maybe() else None
        )
        app["tags"] = list(src.subset(FUZZ_TAGS, 0, 2)) if src.integer(0, 2) == 0 else []
        apps.append(app)
    organisations = [
        {"id": o, "tags": list(src.subset(FUZZ_TAGS, 1, 2))}
        for o in sorted({a["organisation"] for a in apps})
        if src.integer(0, 2) == 0
    ]
    by_id = {a["id"]: a for a in apps}
    witness = [
        (a, src.pick([None, *(v["id"] for v in by_id[a]["variants"])]))
        for a in src.subset(list(by_id), 0, n_apps)
    ]
    base = {
        "name": "fuzz",
        "applications": apps,
        "districts": districts,
        "client_groups": groups,
        "budget": _provisional_budget(years),
        "weights": weights,
        "scale": scale,
        "social_objectives": [f"SC{i + 1}" for i in range(n_social)],
        "attribution": src.pick(["population", "need"]),
        "organisations": organisations,
    }
    measured = _measure(base, witness)
    base["budget"] = _budget(src, apps, years, witness, measured, ties)
    rules = _Rules(src, base, d_ids, g_ids, witness, measured, ties)
    n_rules = min(max_rules, src.pick([0, 1, 2, 2, 3, 3, 4, 5, 6, 8]))
    base["rules"] = [rules.rule(src.pick(RULE_KINDS)) for _ in range(n_rules)]
    base["commitments"] = _commitments(src, base, d_ids, g_ids)
    return _validated(base)


COMMITTED_FRACTIONS = (0.0, 0.0, 0.01, 0.05, 0.1, 0.3, 0.5, 1.0)
COUNTS_TOWARD = ("coverage", "equality_gap", "organisation_cap", "min_spend")


def _commitments(
    src: Source, base: dict[str, Any], d_ids: list[str], g_ids: list[str]
) -> list[dict[str, Any]]:
    """Sometimes commitments from an earlier round: a share of each year's room left (all of it,
    at times: a year with nothing left), by an organisation of the round or another one, counting
    toward a random set of rule kinds."""
    if src.integer(0, 2) != 0:
        return []
    budget = base["budget"]
    room = list(budget.get("per_year") or [budget["total"]])
    orgs = sorted({a["organisation"] for a in base["applications"]})
    tags = sorted({t for a in base["applications"] for t in a["tags"]})
    out = []
    for k in range(src.integer(1, 3)):
        amounts = [int(r * src.pick(COMMITTED_FRACTIONS)) if src.integer(0, 5) else min(r, 1) for r in room]
        room = [r - a for r, a in zip(room, amounts, strict=True)]
        out.append(
            {
                "id": f"C{k}",
                "organisation": src.pick([*orgs, "Earlier Org"]),
                "amounts": amounts,
                "client_groups": list(src.subset(g_ids, 1, 2)),
                "districts": list(src.subset(d_ids, 0, 2)) if src.maybe() else [],
                "tags": list(src.subset(tags, 0, 1)) if tags else [],
                "counts_toward": list(src.subset(COUNTS_TOWARD, 0, 4)),
            }
        )
    return out


def _population(src: Source, mode: str) -> int:
    """Small (shares like 1/3, ties), wide, or the same in every district."""
    if mode == "small":
        return src.integer(1, 3)
    return src.integer(1, 10**6) if mode == "wide" else 7


def _beneficiaries(src: Source) -> int:
    return src.integer(0, 1000) if src.maybe() else src.integer(0, 10**7)


def _application(
    src: Source,
    app_id: str,
    twin: dict[str, Any] | None,
    money: tuple[int, int],
    years: int,
    scale: dict[str, float],
    n_social: int,
    d_ids: list[str],
    g_ids: list[str],
    short_ids: bool,
) -> dict[str, Any]:
    """One application (organisation and beneficiaries are set by the caller); a twin lends
    its cost or its scores, for exact ties."""
    cost = twin["cost"] if twin is not None and src.maybe() else src.money(*money)
    if twin is not None and src.maybe():
        outcome, social = twin["outcome_score"], twin["social_scores"]
    else:
        outcome, social = src.score(scale["outcome_max"]), list(src.scores(scale["social_max"], n_social))
    cost_profile = None
    if years > 1 and src.maybe():
        cost_profile = list(split(cost, [src.integer(0, 4) for _ in range(years)]))
    elif years == 1 and src.integer(0, 5) == 0:
        cost_profile = [cost]
    variants = []
    for k in range(src.pick([0, 0, 0, 1, 1, 2, 3])):
        fraction = src.pick([0.5, 0.6, 0.75, 0.9, 1.0, 1.2]) if src.maybe() else src.fraction()
        v_cost = _clip(cost * fraction)
        variants.append(
            {
                "id": f"v{k}" if short_ids else f"{app_id}v{k + 1}",
                "cost": v_cost,
                "cost_profile": list(split(v_cost, [src.integer(0, 4) for _ in range(years)]))
                if years > 1 and src.maybe()
                else None,
                "outcome_score": src.score(scale["outcome_max"]) if src.maybe() else None,
                "social_scores": list(src.scores(scale["social_max"], n_social)) if src.maybe() else None,
                "districts": list(src.subset(d_ids, 0, 3)) if src.integer(0, 3) == 0 else None,
                "beneficiaries": _beneficiaries(src) if src.maybe() else None,
            }
        )
    return {
        "id": app_id,
        "client_groups": list(src.subset(g_ids, 1, 3 if src.integer(0, 2) == 0 else 1)),
        "districts": [] if src.integer(0, 4) == 0 else list(src.subset(d_ids, 1, 3)),
        "cost": cost,
        "cost_profile": cost_profile,
        "outcome_score": outcome,
        "social_scores": social,
        "continues_service": src.integer(0, 3) == 0,
        "variants": variants,
    }


def _option_cost(app: dict[str, Any], variant: str | None) -> int:
    if variant is None:
        return int(app["cost"])
    return int(next(v["cost"] for v in app["variants"] if v["id"] == variant))


def _provisional_budget(years: int) -> dict[str, Any]:
    """A budget used only to measure the witness (which the budget does not affect)."""
    return {"total": MAX_PENCE, "per_year": list(split(MAX_PENCE, [1] * years)) if years > 1 else None}


def _budget(
    src: Source,
    apps: list[dict[str, Any]],
    years: int,
    witness: list[tuple[str, str | None]],
    measured: Measured | None,
    ties: bool,
) -> dict[str, Any]:
    """A budget relative to the costs: a fraction of all costs, or exactly the witness's spending.

    A round of very large costs sometimes keeps a total beyond MAX_PENCE (the library may refuse it).
    """
    by_id = {a["id"]: a for a in apps}
    spent = sum(_option_cost(by_id[a], v) for a, v in witness)
    if ties and spent >= years and src.maybe():
        total = spent
    else:
        total = max(years, int(sum(a["cost"] for a in apps) * src.pick(BUDGET_FRACTIONS)))
    if src.integer(0, 9) > 0:
        total = min(total, MAX_PENCE)
    per_year = None  # only a one-year budget may go without yearly limits
    if years > 1:
        yearly = measured.per_year if measured is not None else None
        if ties and total == spent and yearly is not None and all(y > 0 for y in yearly) and src.maybe():
            per_year = list(yearly)  # the witness meets every yearly limit exactly
        else:
            per_year = [p + 1 for p in split(total - years, [src.integer(1, 4) for _ in range(years)])]
    elif src.integer(0, 4) == 0:
        per_year = [total]
    return {"total": total, "per_year": per_year}


@dataclass(frozen=True)
class Measured:
    """What the library's own verifier reports of the witness allocation: exact ties come from here."""

    total: int
    per_year: tuple[int, ...] | None
    money: dict[str, float]  # "district=Hastings" -> attributed pence; also "organisation=Mind"
    count: dict[str, int]


def _measure(base: dict[str, Any], witness: list[tuple[str, str | None]]) -> Measured | None:
    """Attributed money and counts of the witness per key, as `allocate.verify` computes them.

    None when the library refuses the round (then bounds are drawn as plain fractions).
    """
    probes: list[dict[str, Any]] = [
        {"kind": "coverage", "over": over, "min_amount": 0, "min_count": 0}
        for over in ("district", "client_group", "cell")
    ]
    probes.append({"kind": "organisation_cap", "max_amount": 0, "max_awards": 0})
    if any(a["tags"] for a in base["applications"]) or any(o["tags"] for o in base["organisations"]):
        probes.append({"kind": "coverage", "over": "tag", "min_amount": 0, "min_count": 0})
    try:
        problem = Problem.model_validate({**base, "rules": probes})
    except InvalidProblemError as exc:
        if is_money_refusal(exc):
            return None
        raise
    check = allocate.verify(problem, witness)
    money: dict[str, float] = {}
    count: dict[str, int] = {}
    years: dict[int, int] = {}
    for c in check.checks:
        key = c.label[c.label.find("[") + 1 : -1]
        if c.label.startswith("Coverage.min_amount"):
            money[key] = c.achieved
        elif c.label.startswith("Coverage.min_count"):
            count[key] = int(c.achieved)
        elif c.label.startswith("OrganisationCap.max_amount"):
            money[f"organisation={key}"] = c.achieved
        elif c.label.startswith("OrganisationCap.max_awards"):
            count[f"organisation={key}"] = int(c.achieved)
        elif c.label.startswith("Budget[year="):
            years[int(key.split("=")[1])] = int(c.achieved)
    per_year = tuple(years[y] for y in sorted(years)) if years else None
    return Measured(total=check.total, per_year=per_year, money=money, count=count)


def _validated(data: dict[str, Any]) -> Round:
    """The Problem, or the dict itself if the library refuses a money amount (a bug here otherwise)."""
    try:
        return Problem.model_validate(data)
    except InvalidProblemError as exc:
        if is_money_refusal(exc):
            return data
        raise


class _Rules:
    """Draws rules for a round under construction, with bounds relative to its money and witness."""

    def __init__(
        self,
        src: Source,
        base: dict[str, Any],
        d_ids: list[str],
        g_ids: list[str],
        witness: list[tuple[str, str | None]],
        measured: Measured | None,
        ties: bool,
    ) -> None:
        self.src = src
        self.apps: list[dict[str, Any]] = base["applications"]
        self.total: int = base["budget"]["total"]
        self.years = len(base["budget"]["per_year"] or [0])
        self.budget_years: tuple[int, ...] = tuple(base["budget"]["per_year"] or [self.total])
        self.scale: dict[str, float] = base["scale"]
        self.keys = {
            "district": d_ids,
            "client_group": g_ids,
            "cell": [f"{d}:{g}" for d in d_ids for g in g_ids],
            "tag": sorted(
                {t for a in self.apps for t in a["tags"]}
                | {t for o in base["organisations"] for t in o["tags"]}
            ),
        }
        self.org_tags = sorted({t for o in base["organisations"] for t in o["tags"]})
        self.orgs = sorted({a["organisation"] for a in self.apps})
        self.witness = witness
        self.measured = measured if measured is not None and measured.total > 0 else None
        self.ties = ties

    def rule(self, kind: str) -> dict[str, Any]:
        """A random valid rule of this kind, as a dict."""
        return getattr(self, f"_{kind}")()  # type: ignore[no-any-return]

    # -- bounds --------------------------------------------------------------------
    def _exact(self) -> Measured | None:
        """The witness's measures, when this bound should be met by the witness exactly."""
        return self.measured if self.ties or self.src.maybe() else None

    def amount(self, key: str, every: bool = False) -> int:
        """Pence: what the witness attributes to `key` (rounded either way), or a fraction of the budget.
        With `every` (a lower bound on every key), small fractions only."""
        m = self._exact()
        if m is not None:
            got = m.money.get(key, 0.0)
            return int(self.src.pick([math.floor(got), math.ceil(got), round(got)]))
        return int(self.total * self.src.pick(SMALL_FRACTIONS if every else MONEY_FRACTIONS))

    def share(self, key: str, low: bool, every: bool = False) -> float:
        m = self._exact()
        if m is not None:
            return min(1.0, m.money.get(key, 0.0) / m.total)
        if every:
            return self.src.pick(SMALL_FRACTIONS)
        return self.src.pick(TIE_SHARES if self.ties else MIN_SHARES if low else MAX_SHARES)

    def count(self, key: str, low: bool, every: bool = False) -> int:
        m = self._exact()
        if m is not None:
            return m.count.get(key, 0)
        return self.src.integer(0, 1 if every else 3) if low else self.src.integer(0, 5)

    def options(self, app: dict[str, Any]) -> list[tuple[float, list[float]]]:
        """(outcome, social scores) of every option of an application, inheritance applied."""
        out = [(app["outcome_score"], app["social_scores"])]
        for v in app["variants"]:
            outcome = app["outcome_score"] if v["outcome_score"] is None else v["outcome_score"]
            out.append((outcome, app["social_scores"] if v["social_scores"] is None else v["social_scores"]))
        return out

    # -- rules, one method per kind ------------------------------------------------------
    def _pot(self) -> dict[str, Any]:
        src = self.src
        yearly = sorted(
            {max(a["cost_profile"]) if a["cost_profile"] else -(-a["cost"] // self.years) for a in self.apps}
        )
        band = src.pick(yearly) if src.maybe() else _clip(yearly[-1] * src.fraction())
        return {
            "kind": "pot",
            "name": src.pick(["small grants", "pot ü", "capital"]),
            "max_per_year": band,
            "amount": _clip(min(self.total, self.total * src.pick([0.05, 0.1, 0.25, 0.5, 0.9, 1.0]))),
            "ring_fenced": src.maybe(),
        }

    def _coverage(self) -> dict[str, Any]:
        src = self.src
        over = src.pick(["district", "client_group", "cell", *(["tag"] if self.keys["tag"] else [])])
        key = src.pick(self.keys[over]) if src.maybe() else None
        probe = f"{over}={key if key is not None else src.pick(self.keys[over])}"
        rule: dict[str, Any] = {"kind": "coverage", "over": over, "key": key}
        names = ["min_amount", "max_amount", "min_share", "max_share", "min_count", "max_count"]
        for name in src.subset(names, 1, 3):
            low = name.startswith("min")
            every = low and key is None  # a lower bound on every key: kept small, else rarely feasible
            if name.endswith("amount"):
                rule[name] = self.amount(probe, every)
            elif name.endswith("share"):
                rule[name] = self.share(probe, low, every)
            else:
                rule[name] = self.count(probe, low, every)
        return rule

    def _equality_gap(self) -> dict[str, Any]:
        src = self.src
        if self.keys["tag"] and src.integer(0, 2) == 0:
            return self._tag_gap()
        over = src.pick(["district", "client_group"])
        ratio = None
        if self.ties and src.maybe():  # an exact target: share equal to the target share
            exact = src.maybe()
            return {
                "kind": "equality_gap",
                "over": over,
                "basis": src.pick(["need", "population"]) if over == "district" else "need",
                "tolerance": 0.0 if exact else src.pick(GAP_TOLERANCES),
                "ratio": None if exact else [1.0, 1.0],
            }
        if src.maybe():
            ends = [src.pick([0.0, 0.5, 0.8, 1.0, 1.2, 2.0]) for _ in range(2)]
            ratio = list(src.pick(RATIOS)) if src.maybe() else sorted(ends)
        return {
            "kind": "equality_gap",
            "over": over,
            "basis": src.pick(["need", "population"]) if over == "district" else "need",
            "tolerance": src.pick(GAP_TOLERANCES) if src.maybe() else src.fraction(),
            "ratio": ratio,
        }

    def _tag_gap(self) -> dict[str, Any]:
        """Tag shares against declared targets: often exactly the witness's share (a tie)."""
        src = self.src
        shares = {t: self.share(f"tag={t}", src.maybe()) for t in src.subset(self.keys["tag"], 1, 3)}
        exact = self.ties and src.maybe()
        ratio = None
        if not exact and src.maybe():
            ratio = list(src.pick(RATIOS))
        return {
            "kind": "equality_gap",
            "over": "tag",
            "target_shares": shares,
            "tolerance": 0.0 if exact else src.pick(GAP_TOLERANCES) if src.maybe() else src.fraction(),
            "ratio": ratio,
        }

    def _no_new_gaps(self) -> dict[str, Any]:
        cells = list(self.src.subset(self.keys["cell"], 0, 3)) if self.src.maybe() else None
        return {"kind": "no_new_gaps", "cells": cells}

    def _organisation_cap(self) -> dict[str, Any]:
        src = self.src
        org = src.pick(self.orgs) if src.maybe() else None
        probe = f"organisation={org if org is not None else src.pick(self.orgs)}"
        rule: dict[str, Any] = {"kind": "organisation_cap", "organisation": org}
        if self.org_tags and src.integer(0, 2) == 0:
            rule["tag"] = src.pick(self.org_tags)
        for name in src.subset(["max_amount", "max_share", "max_awards"], 1, 3):
            if name == "max_amount":
                rule[name] = self.amount(probe)
            elif name == "max_share":
                rule[name] = self.share(probe, low=False)
            else:
                rule[name] = self.count(probe, low=False)
        return rule

    def _min_organisations(self) -> dict[str, Any]:
        top = len(self.orgs) + 1 if self.src.integer(0, 4) == 0 else len(self.orgs)  # sometimes too many
        return {"kind": "min_organisations", "count": self.src.integer(1, min(top, 5))}

    def _pass_mark(self) -> dict[str, Any]:
        """Marks as fractions of the scale, or exactly an option's outcome score or mean social score
        (the mean computed three ways, which can differ in the last bit)."""
        src = self.src
        use = src.pick(["outcome", "social", "both"])
        outcome, social = src.pick(self.options(src.pick(self.apps)))
        top_o, top_s = self.scale["outcome_max"], self.scale["social_max"]
        exact = self.ties or src.maybe()
        means = [math.fsum(social) / len(social), float(np.mean(social)), sum(social) / len(social)]
        min_outcome = outcome if exact else top_o * src.pick([0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0])
        min_social = src.pick(means) if exact else top_s * src.pick([0.0, 0.2, 0.4, 0.5])
        return {
            "kind": "pass_mark",
            "min_outcome": None if use == "social" else min(top_o, min_outcome),
            "min_social": None if use == "outcome" else min(top_s, min_social),
        }

    def _lock(self) -> dict[str, Any]:
        """Fund, exclude, or fund one option; funding locks favour the witness's own choices."""
        src = self.src
        if self.witness and src.maybe():
            app_id, variant = src.pick(self.witness)
            app = next(a for a in self.apps if a["id"] == app_id)
            mode = src.pick(["fund", "variant"])
        else:
            app = src.pick(self.apps)
            variant = src.pick([None, *(v["id"] for v in app["variants"])])
            mode = src.pick(["fund", "exclude", "variant"])
        if mode == "variant":
            return {"kind": "lock", "application": app["id"], "variant": variant or app["id"]}
        return {"kind": "lock", "application": app["id"], "fund": mode == "fund"}

    def _exclusive(self) -> dict[str, Any]:
        chosen = self.src.subset([a["id"] for a in self.apps], 2, 4)
        return {
            "kind": "exclusive",
            "applications": list(chosen),
            "at_most": self.src.integer(1, len(chosen) - 1),
        }

    def _min_spend(self) -> dict[str, Any]:
        """Spend at least an amount or a share of the budget (total, one year, every year); often
        exactly what the witness spends (an amount, or the share it spends of the budget)."""
        src = self.src
        year: int | str = src.pick(["total", "total", "each", *range(1, self.years + 1)])
        rule: dict[str, Any] = {"kind": "min_spend", "year": year}
        m = self._exact()
        yearly = list(self.budget_years)
        if m is not None and year != "each":
            if year == "total":
                spent, available = m.total, self.total
            else:
                per_year = m.per_year if m.per_year is not None else (m.total,)
                spent, available = per_year[int(year) - 1], yearly[int(year) - 1]
        else:
            available = self.total if year == "total" else min(yearly)
            spent = int(available * src.pick(MONEY_FRACTIONS))
        for name in src.subset(["min_amount", "min_share"], 1, 2):
            if name == "min_amount":
                rule[name] = spent
            else:
                rule[name] = min(1.0, spent / available) if available > 0 else 0.0
        return rule

    def _requires(self) -> dict[str, Any]:
        a, b = self.src.subset([a["id"] for a in self.apps], 2, 2)
        return {"kind": "requires", "application": a, "requires": b}


def generate_rounds(n: int, seed: int) -> list[Round]:
    """`n` rounds drawn by hypothesis from fuzz_rounds(), the same for the same seed, n, code and
    hypothesis version.

    Runs hypothesis's generate phase (no shrinking, no database) under a fixed seed and
    keeps every example; works outside pytest. Slower than `seeded_round`, and hypothesis
    mutates earlier examples, so runs of similar rounds appear.
    """
    out: list[Round] = []
    batch = 0
    while len(out) < n:

        @hypothesis_seed(seed * 1_000_003 + batch)
        @settings(
            max_examples=n - len(out),
            database=None,
            derandomize=False,
            phases=(Phase.generate,),
            deadline=None,
            print_blob=False,
            suppress_health_check=list(HealthCheck),
        )
        @given(fuzz_rounds())
        def collect(r: Round) -> None:
            out.append(r)

        collect()
        batch += 1
    return out[:n]


def round_json(r: Round) -> dict[str, Any]:
    """The round as JSON-ready data (what `Problem.from_dict` reads back)."""
    return r.model_dump(mode="json") if isinstance(r, Problem) else r


def describe(r: Round) -> str:
    """A short summary: applications, variants, years and rule kinds."""
    d = round_json(r)
    kinds = Counter(rule["kind"] for rule in d.get("rules", []))
    n_var = sum(len(a.get("variants", [])) for a in d["applications"])
    top = max(a["cost"] for a in d["applications"])
    years = len(d["budget"].get("per_year") or [0])
    rules = ",".join(f"{k}×{n}" if n > 1 else k for k, n in sorted(kinds.items())) or "no rules"
    return f"{len(d['applications'])} apps, {n_var} variants, years {years}, max cost {top:.3g}p, {rules}"


# --------------------------------------------------------------------------- classification
@dataclass
class BackendRun:
    """One backend's answer to one round (or the exception it raised), checked independently."""

    backend: str
    seconds: float
    status: str | None = None
    value: float | None = None
    awards: list[tuple[str, str | None]] = field(default_factory=list)
    error_type: str | None = None
    error: str | None = None
    verified: bool | None = None
    """allocate.verify accepts the awards, Allocation.verified is set and the values match."""
    violations: list[str] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return self.error_type == "InvalidProblemError"

    @property
    def out_of_range(self) -> bool:
        """The backend declined amounts beyond its documented trusted range (not a failure)."""
        return self.error_type == "SolverError" and "is trusted on amounts up to" in (self.error or "")

    @property
    def answered(self) -> bool:
        return self.error_type is None


@dataclass
class RoundRecord:
    """The answers of every backend to one round and what cannot be right about them.

    Reference: the best value of any independently verified allocation (`best`). A backend
    is wrong when it raises (other than refusing the round), returns an allocation that
    fails verification, says infeasible while another backend has a verified allocation,
    or says optimal with a value below `best` (beyond REL).
    """

    runs: dict[str, BackendRun]
    time_limit: float
    best: float | None = None
    best_by: list[str] = field(default_factory=list)
    raised: dict[str, str] = field(default_factory=dict)
    """backend -> exception type, for exceptions other than VerificationError and InvalidProblemError."""
    unverified: dict[str, str] = field(default_factory=dict)
    """backend -> why: raised VerificationError, or its allocation fails allocate.verify."""
    wrong_infeasible: list[str] = field(default_factory=list)
    below_best: dict[str, float] = field(default_factory=dict)
    """backend -> its value as a fraction of `best`."""
    refused: list[str] = field(default_factory=list)
    out_of_range: list[str] = field(default_factory=list)
    """Backends that declined the round's amounts as beyond their documented trusted range."""
    slow: list[str] = field(default_factory=list)
    statuses_disagree: bool = False
    """Some backend says infeasible and another optimal or feasible."""

    @property
    def partial_refusal(self) -> bool:
        """Some backend refuses the round while another answers it: a disagreement."""
        return bool(self.refused) and any(r.answered for r in self.runs.values())

    @property
    def failing(self) -> bool:
        return bool(
            self.raised
            or self.unverified
            or self.wrong_infeasible
            or self.below_best
            or self.slow
            or self.partial_refusal
        )

    def wrong(self, backend: str) -> list[str]:
        """Why this backend's answer cannot be right (empty if nothing is known against it)."""
        run = self.runs[backend]
        out = []
        if backend in self.raised:
            out.append(f"raises {run.error_type}: {run.error}")
        if backend in self.unverified:
            out.append(self.unverified[backend])
        if backend in self.wrong_infeasible:
            out.append(
                f"says infeasible, but {', '.join(self.best_by)} return a verified allocation worth {self.best!r}"
            )
        if backend in self.below_best:
            out.append(
                f"says optimal at {run.value!r}, {self.below_best[backend]:.6g} of the verified {self.best!r} of {', '.join(self.best_by)}"
            )
        if backend in self.refused and self.partial_refusal:
            out.append(f"refuses the round ({run.error}) while others answer it")
        return out

    def what_happens(self) -> str:
        """One line in the words of the shared reliability files."""
        parts: list[str] = []
        errors = {b: (r.error_type, r.error) for b, r in self.runs.items() if not r.answered}
        if len(errors) == len(self.runs) > 1 and len({t for t, _ in errors.values()}) == 1:
            kind, msg = next(iter(errors.values()))
            verb = "refuses" if kind == "InvalidProblemError" else "raises"
            parts.append(f"every backend {verb} {kind}: {msg}")
        else:
            for b in self.runs:
                for why in self.wrong(b):
                    parts.append(f"{b} {why}")
        for b in self.slow:
            fastest = min(r.seconds for o, r in self.runs.items() if o != b and r.answered)
            parts.append(f"{b} takes {self.runs[b].seconds:.1f} s (fastest other {fastest:.2f} s)")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["partial_refusal"] = self.partial_refusal
        out["failing"] = self.failing
        out["what_happens"] = self.what_happens()
        return out


def run_backend(problem: Round, backend: str, time_limit: float) -> BackendRun:
    """Solve with one backend (one thread, no diagnosis), timed, and verify the answer independently."""
    start = time.perf_counter()
    try:
        a = allocate.solve(problem, backend, time_limit=time_limit, threads=1, diagnose=False)
    except Exception as exc:  # every exception is a finding, recorded by type
        return BackendRun(
            backend, time.perf_counter() - start, error_type=type(exc).__name__, error=str(exc)[:500]
        )
    run = BackendRun(
        backend,
        time.perf_counter() - start,
        status=a.status,
        value=a.value,
        awards=[(w.application, w.variant) for w in a.awards],
    )
    if a.status in ("optimal", "feasible"):
        run.verified, run.violations = _verify(problem, a, run.awards)
    return run


def _verify(
    problem: Round, a: allocate.Allocation, awards: list[tuple[str, str | None]]
) -> tuple[bool, list[str]]:
    """allocate.verify of the awards, rerun here, and agreement with what the Allocation claims."""
    p = problem if isinstance(problem, Problem) else Problem.from_dict(problem)
    try:
        check = allocate.verify(p, awards, weights=a.weights)
    except Exception as exc:
        return False, [f"verify raises {type(exc).__name__}: {exc}"]
    problems = list(check.violations)
    if not a.verified:
        problems.append("Allocation.verified is False")
    if not close(a.value, check.value_outcome + check.value_social):
        problems.append(f"value {a.value!r} but verify computes {check.value_outcome + check.value_social!r}")
    return not problems, problems


def verdicts(runs: dict[str, BackendRun], time_limit: float) -> RoundRecord:
    """Judge the backends' answers to one round against each other (see RoundRecord)."""
    rec = RoundRecord(runs=runs, time_limit=time_limit)
    for b, r in runs.items():
        if r.refused:
            rec.refused.append(b)
        elif r.out_of_range:
            rec.out_of_range.append(b)
        elif r.error_type == VerificationError.__name__:
            rec.unverified[b] = f"raises VerificationError: {r.error}"
        elif r.error_type is not None:
            rec.raised[b] = r.error_type
        elif r.verified is False:
            rec.unverified[b] = (
                f"returns an allocation that fails verification: {'; '.join(r.violations[:3])}"
            )
    if runs and len(rec.out_of_range) == len(runs):
        # A valid round that every backend declines has no answer at all: a failure of each.
        for b in rec.out_of_range:
            rec.raised[b] = runs[b].error_type or "SolverError"
        rec.out_of_range = []
    good = {b: r.value for b, r in runs.items() if r.verified and r.value is not None}
    if good:
        rec.best = max(good.values())
        rec.best_by = [b for b, v in good.items() if close(v, rec.best)]
    statuses = {r.status for r in runs.values() if r.answered}
    rec.statuses_disagree = "infeasible" in statuses and bool(statuses & {"optimal", "feasible"})
    for b, r in runs.items():
        if r.status == "infeasible" and good:
            rec.wrong_infeasible.append(b)
        value, best = r.value, rec.best
        claims_optimal = r.status == "optimal" and r.verified
        if (
            claims_optimal
            and value is not None
            and best is not None
            and value < best
            and not close(value, best)
        ):
            rec.below_best[b] = value / best if best else 0.0
        others = [o.seconds for c, o in runs.items() if c != b and o.answered]
        if r.seconds > SLOW_SECONDS and others and min(others) < FAST_SECONDS:
            rec.slow.append(b)
    return rec


def classify(
    problem: Round, backends: Iterable[str] = allocate.BACKENDS, time_limit: float = 30.0
) -> RoundRecord:
    """Solve the round with each backend and judge the answers against each other."""
    return verdicts({b: run_backend(problem, b, time_limit) for b in backends}, time_limit)


def agreement_failures(rec: RoundRecord, backend: str, strict: bool = True) -> list[str]:
    """Why `backend` does not agree with the others on this round (empty: it agrees).

    Blame goes to the backend whose answer cannot be right, so each backend's test fails
    on its own defects only; all backends pass exactly when all agree (same status,
    optimal values equal within REL, every allocation verified). A round every backend
    refuses is agreement. With `strict`, an answer cut short (feasible or no_solution)
    before the time limit is a failure too.
    """
    run = rec.runs[backend]
    out = rec.wrong(backend)
    if out or not run.answered:
        return out
    if rec.best is not None and run.status != "optimal" and (strict or run.seconds < rec.time_limit):
        out.append(
            f"status {run.status!r} after {run.seconds:.1f} s; {', '.join(rec.best_by)} prove an optimum"
        )
    if rec.best is None and run.status != "infeasible" and (strict or run.seconds < rec.time_limit):
        out.append(f"status {run.status!r} after {run.seconds:.1f} s and no backend found an allocation")
    return out


ROW_LABELS = (
    "raises SolverError/other exception",
    "says infeasible, another backend returns a verified optimum",
    "says optimal below the best verified value",
    "VerificationError",
    "refused (InvalidProblemError)",
    "slow (> 5 s)",
    "declined: amounts beyond its trusted range (documented, not a failure)",
)
TOTAL_LABEL = "total (rounds with any of the above against the backend)"


def _hits(rec: RoundRecord) -> dict[str, dict[str, list[str]]]:
    """Row label -> backend -> one detail string per finding (the exception type, or "")."""
    rows: dict[str, dict[str, list[str]]] = {
        ROW_LABELS[0]: {b: [t] for b, t in rec.raised.items()},
        ROW_LABELS[1]: {b: [""] for b in rec.wrong_infeasible},
        ROW_LABELS[2]: {b: [""] for b in rec.below_best},
        ROW_LABELS[3]: {
            b: ["raised" if "raises" in why else "unverified"] for b, why in rec.unverified.items()
        },
        ROW_LABELS[4]: {b: ["while another answers" if rec.partial_refusal else ""] for b in rec.refused},
        ROW_LABELS[5]: {b: [""] for b in rec.slow},
        ROW_LABELS[6]: {b: [""] for b in rec.out_of_range},
    }
    counted = {
        b
        for label, hit in rows.items()
        for b in hit
        if label != ROW_LABELS[6] and (label != ROW_LABELS[4] or rec.partial_refusal)
    }
    rows[TOTAL_LABEL] = {b: [""] for b in counted}
    return rows


def summary_rows(
    records: Sequence[RoundRecord], backends: Sequence[str]
) -> list[tuple[str, dict[str, str], int]]:
    """The counts table: (row label, cell per backend, number of rounds with that finding).

    A cell is the number of rounds, with a breakdown by detail (exception type, or
    "while another answers" for a refusal that is a disagreement) in brackets.
    """
    hits = [_hits(rec) for rec in records]
    out = []
    for label in (*ROW_LABELS, TOTAL_LABEL):
        cells = {}
        for b in backends:
            kinds = Counter(k for h in hits for k in h[label].get(b, []))
            n = sum(kinds.values())
            detail = ", ".join(f"{k} {c}" for k, c in kinds.most_common() if k)
            cells[b] = f"{n} ({detail})" if detail else str(n)
        rounds = sum(1 for h in hits if any(b in h[label] for b in backends))
        out.append((label, cells, rounds))
    return out


def format_table(records: Sequence[RoundRecord], backends: Sequence[str]) -> str:
    """The counts table as fixed-width text, one column per backend plus a rounds column."""
    rows = summary_rows(records, backends)
    header = ["", *backends, "rounds"]
    body = [[label, *(cells[b] for b in backends), str(n)] for label, cells, n in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    rule = "-" * len(line(header))
    return "\n".join([line(header), rule, *(line(r) for r in body[:-1]), rule, line(body[-1])])
