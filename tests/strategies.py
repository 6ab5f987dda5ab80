"""Hypothesis strategies: small random grants rounds, rules of every type included.

Numbers are drawn from "round" sets (halves for scores, small integer populations, shares
like 0.25) as well as from wide ranges, so that exact ties (a share exactly on its bound,
two allocations of equal value) happen often: ties are where solvers' tolerances and
integer scaling go wrong. Rules are drawn relative to the problem (existing ids, budget
fractions) so most problems are valid and a good fraction are feasible; lower-bound
rules (minimum coverage, locks, no new gaps, minimum organisations) make some infeasible.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
from hypothesis import strategies as st

from allocate import (
    Application,
    Budget,
    ClientGroup,
    Commitment,
    Coverage,
    District,
    EqualityGap,
    Exclusive,
    Lock,
    MinOrganisations,
    MinSpend,
    NoNewGaps,
    Organisation,
    OrganisationCap,
    PassMark,
    Pot,
    Problem,
    Requires,
    ScoreScale,
    Variant,
    Weights,
)

DISTRICTS = ("Hastings", "Rother", "Wealden", "Lewes")
GROUPS = ("carers", "older", "young")
ORGS = ("Age UK", "Mind", "Scouts", "Trust", "Co-op")
TAGS = ("user-led", "new provider", "small")
MIN_SHARES = (0.0, 0.05, 0.1, 0.2, 0.25, 1 / 3, 0.5, 1.0)
MAX_SHARES = (0.0, 0.25, 0.3, 1 / 3, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0)
RATIOS = ((0.5, 1.5), (0.0, 2.0), (0.8, 1.0), (1.0, 1.0), (0.9, 1.25), (1.0, 3.0))
GAP_TOLERANCES = (0.0, 0.05, 0.1, 0.1, 0.25, 0.25, 0.5)
RULE_KINDS = (
    "pot",
    "coverage",
    "equality_gap",
    "no_new_gaps",
    "organisation_cap",
    "min_organisations",
    "pass_mark",
    "lock",
    "exclusive",
    "requires",
    "min_spend",
)
T = TypeVar("T")
VALUE_FORMS = ("quality_pounds", "score_sum", "score_beneficiaries")


def split(total: int, weights: list[int]) -> tuple[int, ...]:
    """Split `total` into len(weights) non-negative integer parts in proportion (remainder to the first)."""
    if sum(weights) == 0:
        weights = [1] * len(weights)
    parts = [total * w // sum(weights) for w in weights]
    parts[0] += total - sum(parts)
    return tuple(parts)


@functools.cache
def _ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


@functools.cache
def _index_lists(n: int, min_size: int, max_size: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, n - 1), min_size=min_size, max_size=max_size, unique=True)


def integer(draw: Any, lo: int, hi: int) -> int:
    return draw(_ints(lo, hi))


def pick(draw: Any, items: Sequence[T]) -> T:
    """One of `items` (cheaper than building a sampled_from strategy per draw)."""
    return items[draw(_ints(0, len(items) - 1))]


def maybe(draw: Any) -> bool:
    return draw(_ints(0, 1)) == 1


def subset(draw: Any, items: Sequence[str], min_size: int, max_size: int) -> tuple[str, ...]:
    """Distinct items, in a random order."""
    if not items:
        return ()
    return tuple(items[i] for i in draw(_index_lists(len(items), min_size, min(max_size, len(items)))))


@functools.cache
def _score_strategy(top: float) -> st.SearchStrategy[float]:
    return st.one_of(
        st.integers(0, int(2 * top)).map(lambda k: k / 2),
        st.floats(0, top, allow_nan=False, allow_infinity=False),
    )


@functools.cache
def _scores_strategy(top: float, n: int) -> st.SearchStrategy[tuple[float, ...]]:
    return st.lists(_score_strategy(top), min_size=n, max_size=n).map(tuple)


@functools.cache
def _weights_strategy(n: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, 4), min_size=n, max_size=n)


_BENEFICIARIES = st.integers(0, 1000)
_COST = st.one_of(
    st.integers(1, 40).map(lambda k: k * 250_000),  # round thousands of pounds
    st.integers(1_000, 5_000_000),  # arbitrary pence
)


def score(draw: Any, top: float) -> float:
    """A score on 0..top: usually in halves (ties), sometimes arbitrary."""
    return draw(_score_strategy(top))


def scores(draw: Any, top: float, n: int) -> tuple[float, ...]:
    return draw(_scores_strategy(top, n))


def cost(draw: Any) -> int:
    return draw(_COST)


def profile(draw: Any, amount: int, years: int) -> tuple[int, ...]:
    return split(amount, draw(_weights_strategy(years)))


SCALES = (
    ScoreScale(),
    ScoreScale(outcome_max=10.0, social_max=3.0),
    ScoreScale(outcome_max=7.0, social_max=10.0),
)


@st.composite
def problems(
    draw: Any,
    min_apps: int = 2,
    max_apps: int = 10,
    max_combinations: int = 30_000,
    max_rules: int = 4,
    rule_kinds: Sequence[str] = RULE_KINDS,
    max_variants: int = 2,
) -> Problem:
    """A small valid Problem whose brute-force enumeration has at most `max_combinations` allocations."""
    n_d = integer(draw, 1, 4)
    n_g = integer(draw, 1, 3)
    districts = [
        District(
            id=DISTRICTS[i],
            population=integer(draw, 1, 5) if maybe(draw) else integer(draw, 1, 500_000),
            need=pick(draw, [0.5, 1.0, 1.5, 2.0, 3.0]),
        )
        for i in range(n_d)
    ]
    groups = [ClientGroup(id=GROUPS[i], need=pick(draw, [0.5, 1.0, 2.0, 3.0])) for i in range(n_g)]
    d_ids, g_ids = DISTRICTS[:n_d], GROUPS[:n_g]
    years = pick(draw, [1, 1, 2, 3])
    scale = pick(draw, SCALES)
    n_social = pick(draw, [6, 6, 1, 3])
    objectives = tuple(f"SC{i + 1}" for i in range(n_social))
    value_form = pick(draw, VALUE_FORMS)
    omega = None
    if maybe(draw):
        omega = tuple(pick(draw, [0.0, 0.5, 1.0, 2.0]) for _ in range(n_social))
        if not any(omega):
            omega = (*omega[:-1], 1.0)
    weights = Weights(
        social_value_share=pick(draw, [0.0, 0.1, 0.2, 0.3, 0.5, 1.0]),
        social_objective_weights=omega,
        value_form=value_form,
    )
    n_apps = integer(draw, min_apps, max_apps)
    n_orgs = integer(draw, 1, min(len(ORGS), n_apps))
    apps: list[Application] = []
    combos = 1
    for i in range(n_apps):
        app_id = f"A{i + 1}"
        app_cost = cost(draw)
        room = max_combinations // (combos * 2 ** (n_apps - i - 1))
        n_var = integer(draw, 0, max(0, min(max_variants, room - 2)))
        combos *= 2 + n_var
        county_wide = integer(draw, 0, 4) == 0
        app_districts = () if county_wide else subset(draw, d_ids, 1, 2)
        app_profile = profile(draw, app_cost, years) if years > 1 and maybe(draw) else None
        if years == 1 and integer(draw, 0, 5) == 0:
            app_profile = (app_cost,)
        need_benef = value_form == "score_beneficiaries" or maybe(draw)
        variants = []
        for k in range(n_var):
            if maybe(draw):
                v_cost = max(1, int(app_cost * pick(draw, [0.5, 0.6, 0.75, 0.9])))
            else:
                v_cost = integer(draw, 1, app_cost)
            variants.append(
                Variant(
                    id=f"{app_id}v{k + 1}",
                    cost=v_cost,
                    cost_profile=profile(draw, v_cost, years) if years > 1 and maybe(draw) else None,
                    outcome_score=score(draw, scale.outcome_max) if maybe(draw) else None,
                    social_scores=scores(draw, scale.social_max, n_social) if maybe(draw) else None,
                    districts=subset(draw, d_ids, 0, 2) if integer(draw, 0, 3) == 0 else None,
                    beneficiaries=draw(_BENEFICIARIES) if maybe(draw) else None,
                )
            )
        apps.append(
            Application(
                id=app_id,
                organisation=ORGS[integer(draw, 0, n_orgs - 1)],
                client_groups=subset(draw, g_ids, 1, 2) if integer(draw, 0, 2) == 0 else (pick(draw, g_ids),),
                districts=app_districts,
                cost=app_cost,
                cost_profile=app_profile,
                outcome_score=score(draw, scale.outcome_max),
                social_scores=scores(draw, scale.social_max, n_social),
                beneficiaries=draw(_BENEFICIARIES) if need_benef else None,
                continues_service=integer(draw, 0, 3) == 0,
                variants=tuple(variants),
                tags=subset(draw, TAGS, 0, 2) if integer(draw, 0, 2) == 0 else (),
            )
        )
    all_cost = sum(a.cost for a in apps)
    organisations = tuple(
        Organisation(id=o, tags=subset(draw, TAGS, 1, 2))
        for o in sorted({a.organisation for a in apps})
        if integer(draw, 0, 2) == 0
    )
    total = max(years, int(all_cost * pick(draw, [0.2, 0.35, 0.5, 0.65, 0.8, 1.0, 1.2])))
    per_year = None
    if years > 1:
        shape = [integer(draw, 1, 4) for _ in range(years)]
        per_year = tuple(p + 1 for p in split(total - years, shape))
    base = Problem(
        applications=tuple(apps),
        districts=tuple(districts),
        client_groups=tuple(groups),
        budget=Budget(total=total, per_year=per_year),
        weights=weights,
        scale=scale,
        social_objectives=objectives,
        attribution=pick(draw, ["population", "need"]),
        organisations=organisations,
    )
    n_rules = integer(draw, 0, max_rules)
    rules = [rule_for(draw, base, pick(draw, rule_kinds)) for _ in range(n_rules)]
    return base.replace(rules=tuple(rules), commitments=commitments(draw, base))


COUNTS_TOWARD = ("coverage", "equality_gap", "organisation_cap", "min_spend")


def commitments(draw: Any, problem: Problem) -> tuple[Commitment, ...]:
    """Sometimes one or two commitments from an earlier round, within each year's budget."""
    if integer(draw, 0, 2) != 0:
        return ()
    room = list(problem.budget.per_year or (problem.budget.total,))
    orgs = sorted({a.organisation for a in problem.applications})
    out = []
    for k in range(integer(draw, 1, 2)):
        amounts = tuple(int(r * pick(draw, [0.0, 0.05, 0.1, 0.3])) for r in room)
        room = [r - a for r, a in zip(room, amounts, strict=True)]
        out.append(
            Commitment(
                id=f"C{k}",
                organisation=pick(draw, [*orgs, "Old Org"]),
                amounts=amounts,
                client_groups=subset(draw, [g.id for g in problem.client_groups], 1, 2),
                districts=subset(draw, [d.id for d in problem.districts], 0, 2),
                tags=subset(draw, TAGS, 0, 1),
                counts_toward=subset(draw, COUNTS_TOWARD, 0, 4),  # type: ignore[arg-type]
            )
        )
    return tuple(out)


def rule_for(draw: Any, problem: Problem, kind: str) -> Any:
    """A random valid rule of the given kind, referring to things the problem has."""
    apps = problem.applications
    app_ids = [a.id for a in apps]
    total = problem.budget.total
    d_ids = [d.id for d in problem.districts]
    g_ids = [g.id for g in problem.client_groups]
    cells = [f"{d}:{g}" for d in d_ids for g in g_ids]

    def money() -> int:
        return int(total * pick(draw, [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8]))

    if kind == "pot":
        biggest = sorted({max(a.cost_profile or (a.cost,)) for a in apps})
        band = pick(draw, biggest) if maybe(draw) else integer(draw, 1, max(biggest))
        return Pot(
            max_per_year=band,
            amount=max(1, int(total * pick(draw, [0.1, 0.25, 0.5, 0.9]))),
            ring_fenced=maybe(draw),
        )
    tags = list(problem.tags)
    if kind == "coverage":
        over = pick(draw, ["district", "client_group", "cell", *(["tag", "tag"] if tags else [])])
        keys = {"district": d_ids, "client_group": g_ids, "cell": cells, "tag": tags}[over]
        key = pick(draw, keys) if maybe(draw) else None
        names = subset(
            draw, ["min_amount", "max_amount", "min_share", "max_share", "min_count", "max_count"], 1, 2
        )
        bounds: dict[str, Any] = {}
        for name in names:
            if name.endswith("amount"):
                bounds[name] = money()
            elif name.startswith("min") and name.endswith("share"):
                bounds[name] = pick(draw, MIN_SHARES)
            elif name.endswith("share"):
                bounds[name] = pick(draw, MAX_SHARES)
            else:
                bounds[name] = integer(draw, 0, 3) if name.startswith("min") else integer(draw, 0, 4)
        return Coverage(over=over, key=key, **bounds)
    if kind == "equality_gap" and tags and maybe(draw):
        declared = subset(draw, tags, 1, 2)
        shares = {t: pick(draw, [0.0, 0.1, 0.2, 0.25, 0.5, 1.0]) for t in declared}
        ratio = pick(draw, RATIOS) if maybe(draw) else None
        return EqualityGap(
            over="tag", target_shares=shares, tolerance=pick(draw, GAP_TOLERANCES), ratio=ratio
        )
    if kind == "equality_gap":
        over = pick(draw, ["district", "client_group"])
        basis = pick(draw, ["need", "population"]) if over == "district" else "need"
        ratio = pick(draw, RATIOS) if maybe(draw) else None
        return EqualityGap(over=over, basis=basis, tolerance=pick(draw, GAP_TOLERANCES), ratio=ratio)
    if kind == "no_new_gaps":
        return NoNewGaps(cells=subset(draw, cells, 0, 2) if maybe(draw) else None)
    if kind == "organisation_cap":
        orgs = sorted({a.organisation for a in apps})
        caps: dict[str, Any] = {}
        for name in subset(draw, ["max_amount", "max_share", "max_awards"], 1, 2):
            if name == "max_amount":
                caps[name] = money()
            elif name == "max_share":
                caps[name] = pick(draw, MAX_SHARES)
            else:
                caps[name] = integer(draw, 0, 2)
        org_tags = sorted({t for o in problem.organisations for t in o.tags})
        tag = pick(draw, org_tags) if org_tags and maybe(draw) else None
        return OrganisationCap(organisation=pick(draw, orgs) if maybe(draw) else None, tag=tag, **caps)
    if kind == "min_organisations":
        return MinOrganisations(count=integer(draw, 1, 3))
    if kind == "pass_mark":
        use = pick(draw, ["outcome", "social", "both"])
        o = problem.scale.outcome_max * pick(draw, [0.2, 0.4, 0.5, 0.6]) if use != "social" else None
        s = problem.scale.social_max * pick(draw, [0.2, 0.4, 0.5]) if use != "outcome" else None
        return PassMark(min_outcome=o, min_social=s)
    if kind == "lock":
        app = pick(draw, apps)
        mode = pick(draw, ["fund", "exclude", "variant"])
        if mode == "variant":
            return Lock(application=app.id, variant=pick(draw, [app.id, *(v.id for v in app.variants)]))
        return Lock(application=app.id, fund=mode == "fund")
    if kind == "exclusive":
        chosen = subset(draw, app_ids, 2, 3)
        return Exclusive(applications=chosen, at_most=integer(draw, 1, len(chosen) - 1))
    if kind == "requires":
        a, b = subset(draw, app_ids, 2, 2)
        return Requires(application=a, requires=b)
    if kind == "min_spend":
        years = problem.budget.years
        year = pick(draw, ["total", "total", "each", *range(1, years + 1)])
        spend: dict[str, Any] = {}
        for name in subset(draw, ["min_amount", "min_share"], 1, 2):
            share = pick(draw, [0.0, 0.1, 0.25, 1 / 3, 0.5, 0.6, 0.8, 0.95, 1.0])
            if name == "min_share":
                spend[name] = share
            else:
                available = total if year == "total" else total // years
                spend[name] = int(available * share)
        return MinSpend(year=year, **spend)
    raise AssertionError(kind)


def describe(problem: Problem) -> str:
    """A compact one-line summary (for hypothesis notes)."""
    return (
        f"{len(problem.applications)} apps, {sum(len(a.variants) for a in problem.applications)} variants, "
        f"{len(problem.districts)}d×{len(problem.client_groups)}g, budget {problem.budget}, "
        f"rules {[r.label for r in problem.rules]}, weights {problem.weights}"
    )


def options_product(problem: Problem) -> int:
    return math.prod(2 + len(a.variants) for a in problem.applications)


EXAMPLES_SCALE = float(os.environ.get("ALLOCATE_TEST_EXAMPLES", "1"))


def examples(n: int) -> int:
    """`n` hypothesis examples, scaled by $ALLOCATE_TEST_EXAMPLES (e.g. 10 for a thorough run)."""
    return max(1, round(n * EXAMPLES_SCALE))


def large_problem(seed: int, n_apps: int) -> Problem:
    """A seeded random round of `n_apps` applications with a few moderate rules (for backend agreement).

    Rules are drawn so that the round is usually feasible but not trivially so.
    """
    rng = np.random.default_rng(seed)
    d_ids = list(DISTRICTS)
    g_ids = list(GROUPS)
    years = int(rng.choice([1, 3]))
    apps = []
    for i in range(n_apps):
        c = int(rng.integers(5, 200)) * 100_00 + int(rng.integers(0, 100))
        variants = []
        if rng.random() < 0.3:
            variants.append(
                Variant(
                    id=f"A{i + 1}v1",
                    cost=max(1, int(c * rng.uniform(0.4, 0.9))),
                    outcome_score=float(rng.integers(0, 201)) / 2,
                )
            )
        n_dist = int(rng.integers(0, 3))
        apps.append(
            Application(
                id=f"A{i + 1}",
                organisation=ORGS[int(rng.integers(0, len(ORGS)))],
                client_groups=tuple(rng.choice(g_ids, size=int(rng.integers(1, 3)), replace=False).tolist()),
                districts=tuple(rng.choice(d_ids, size=n_dist, replace=False).tolist()),
                cost=c,
                outcome_score=float(rng.integers(0, 201)) / 2,
                social_scores=tuple(float(s) for s in rng.integers(0, 11, size=6) / 2),
                beneficiaries=int(rng.integers(0, 2000)),
                continues_service=bool(rng.random() < 0.1),
                variants=tuple(variants),
            )
        )
    total = int(sum(a.cost for a in apps) * rng.uniform(0.3, 0.6))
    per_year = None
    if years > 1:
        per_year = (total // 3, total // 3, total - 2 * (total // 3))
    orgs = sorted({a.organisation for a in apps})
    rules: list[Any] = [
        Coverage(over="district", min_share=0.1),
        Coverage(over="client_group", max_share=0.6),
        OrganisationCap(max_share=0.35),
        MinOrganisations(count=3),
        Pot(max_per_year=30_000_00, amount=total // 5, ring_fenced=bool(rng.random() < 0.5)),
        EqualityGap(over="district", basis="population", tolerance=0.15),
        NoNewGaps(),
        PassMark(min_outcome=20.0),
        Lock(application=apps[int(rng.integers(0, n_apps))].id, fund=False),
        Exclusive(applications=(apps[0].id, apps[1].id)),
        Requires(application=apps[2].id, requires=apps[3].id),
        OrganisationCap(organisation=orgs[0], max_awards=4),
        Coverage(over="cell", key=f"{d_ids[0]}:{g_ids[0]}", min_count=1),
    ]
    keep = rng.random(len(rules)) < 0.5
    return Problem(
        applications=tuple(apps),
        districts=tuple(District(id=d, population=int(rng.integers(50, 200)) * 1000) for d in d_ids),
        client_groups=tuple(ClientGroup(id=g, need=float(rng.integers(1, 4))) for g in g_ids),
        budget=Budget(total=total, per_year=per_year),
        rules=tuple(r for r, k in zip(rules, keep, strict=True) if k),
        weights=Weights(
            social_value_share=float(rng.choice([0.1, 0.2, 0.3])),
            value_form=str(rng.choice(VALUE_FORMS)),  # type: ignore[arg-type]
        ),
    )


TIE_SHARES = (1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 3 / 4)


@st.composite
def tie_problems(draw: Any, max_apps: int = 7) -> Problem:
    """Rounds built for exact ties: costs of 100-600 pence, populations 1-3, groups split in
    halves or thirds, and share rules with bounds like 1/3 that allocations meet exactly.

    An allocation exactly on a share bound is allowed by the rules; integer scaling or
    tight tolerances in a backend can wrongly cut it off.
    """
    n_d = integer(draw, 1, 3)
    n_g = integer(draw, 1, 3)
    d_ids, g_ids = DISTRICTS[:n_d], GROUPS[:n_g]
    apps = tuple(
        Application(
            id=f"A{i + 1}",
            organisation=ORGS[integer(draw, 0, 2)],
            client_groups=subset(draw, g_ids, 1, 3),
            districts=subset(draw, d_ids, 0, 3),
            cost=pick(draw, [100, 200, 300, 600]),
            outcome_score=float(integer(draw, 1, 10) * 10),
        )
        for i in range(integer(draw, 2, max_apps))
    )
    base = Problem(
        applications=apps,
        districts=tuple(
            District(id=d, population=integer(draw, 1, 3), need=float(integer(draw, 1, 3))) for d in d_ids
        ),
        client_groups=tuple(ClientGroup(id=g, need=float(integer(draw, 1, 3))) for g in g_ids),
        budget=Budget(total=pick(draw, [300, 600, 900, 1200])),
        attribution=pick(draw, ["population", "need"]),
    )
    rules: list[Any] = []
    for _ in range(integer(draw, 1, 2)):
        kind = pick(draw, ["coverage", "equality_gap", "organisation_cap"])
        if kind == "coverage":
            over = pick(draw, ["district", "client_group", "cell"])
            keys = {
                "district": list(d_ids),
                "client_group": list(g_ids),
                "cell": [f"{d}:{g}" for d in d_ids for g in g_ids],
            }
            bound = pick(draw, ["min_share", "max_share"])
            rules.append(Coverage(over=over, key=pick(draw, keys[over]), **{bound: pick(draw, TIE_SHARES)}))
        elif kind == "equality_gap":
            over = pick(draw, ["district", "client_group"])
            rules.append(
                EqualityGap(
                    over=over,
                    basis=pick(draw, ["need", "population"]) if over == "district" else "need",
                    tolerance=0.0,
                    ratio=pick(draw, [None, (1.0, 1.0), (0.5, 1.0), (1.0, 2.0)]),
                )
            )
        else:
            rules.append(OrganisationCap(max_share=pick(draw, TIE_SHARES)))
    return base.replace(rules=tuple(rules))
