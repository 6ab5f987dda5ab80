"""The East Sussex 2011 reference scenario: a synthetic grants round built on public facts.

Round-level facts (£9m over 3 years, 173 applications from 73 organisations, seven panels)
and the five districts' 2011 census populations are real; every application, score and
rule parameter is synthetic. `docs/scenarios.md` labels each choice ([FACT], [CASE STUDY],
[DERIVED], [SYNTHETIC]) and records the calibration against the real outcome (67 grants,
47 organisations, about £7.5m).

The generator is vectorised numpy driven by one ``numpy.random.default_rng(seed)``, so
`allocate.scenarios.scaled` reuses it unchanged for national programmes of 100k+ bids.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from allocate.domain.model import Problem
from allocate.domain.parts import Application, Budget, ClientGroup, District, Organisation, Variant, Weights
from allocate.domain.rules import (
    Coverage,
    EqualityGap,
    MinOrganisations,
    MinSpend,
    NoNewGaps,
    OrganisationCap,
    PassMark,
    Pot,
    Rule,
)

POUND = 100
"""Pence in a pound."""

YEARS = 3

# -- client groups (= panels) -------------------------------------------------------
GROUPS: tuple[str, ...] = (
    "older_people",
    "carers",
    "disabled_people",
    "mental_health",
    "vulnerable_people",
    "learning_disabilities",
    "healthier_lifestyles",
)
GROUP_TITLES: tuple[str, ...] = (
    "Older people",
    "Carers",
    "Disabled people",
    "Mental health",
    "Vulnerable people",
    "Learning disabilities",
    "Healthier lifestyles",
)
GROUP_BUDGET_SHARE: tuple[float, ...] = (0.24, 0.16, 0.12, 0.14, 0.10, 0.12, 0.12)
"""Indicative budget shares (§5.3, synthetic); also each client group's need weight."""
GROUP_APPLICATIONS: tuple[int, ...] = (36, 22, 24, 26, 18, 21, 26)
"""Applications per client group in each county (§5.3, synthetic; sums to 173)."""
GROUP_SHARE_BAND: tuple[tuple[float, float], ...] = (
    (0.16, 0.32),
    (0.10, 0.22),
    (0.07, 0.17),
    (0.09, 0.19),
    (0.05, 0.15),
    (0.07, 0.17),
    (0.07, 0.17),
)
"""Min-max share of awarded money per client group (the Coverage rule, §5.3)."""
_NEED_MIX = np.array(
    # population, 65+, carers, deprivation-adjusted population
    [
        [0.0, 1.0, 0.0, 0.0],  # older_people: 65+
        [0.0, 0.0, 1.0, 0.0],  # carers: carers
        [0.0, 0.5, 0.0, 0.5],  # disabled_people: mean(65+, deprivation-adjusted)
        [0.0, 0.0, 0.0, 1.0],  # mental_health: deprivation-adjusted
        [0.0, 0.0, 0.0, 1.0],  # vulnerable_people: deprivation-adjusted
        [1.0, 0.0, 0.0, 0.0],  # learning_disabilities: population
        [0.0, 0.0, 0.0, 1.0],  # healthier_lifestyles: deprivation-adjusted
    ]
)
"""How each client group's need splits across districts (§5.3)."""
_SECONDARY_AFFINITY = np.array(
    # which second client group a joint bid names, by primary group [SYNTHETIC]
    [
        [0, 4, 3, 2, 1, 1, 2],
        [4, 0, 2, 2, 1, 3, 1],
        [3, 2, 0, 1, 1, 2, 1],
        [1, 2, 1, 0, 4, 1, 2],
        [1, 1, 1, 4, 0, 1, 2],
        [1, 4, 2, 1, 1, 0, 1],
        [3, 1, 1, 2, 1, 1, 0],
    ],
    dtype=np.float64,
)
_UNIT_COST = np.array(
    # £ per person per year, log-uniform between these (§5.5)
    [[150, 600], [100, 400], [300, 1500], [300, 1500], [400, 2000], [1500, 5000], [50, 200]],
    dtype=np.float64,
)

# -- organisations and applications -------------------------------------------------
APPS_PER_ORG: Mapping[int, int] = MappingProxyType({1: 38, 2: 14, 3: 9, 4: 6, 6: 3, 9: 2, 20: 1})
"""Organisations (value) submitting each number of applications (key); 73 orgs, 173 apps."""
SHARE_COUNTY_WIDE_ORGS = 0.30
SHARE_COUNTY_WIDE_APPS = 0.35
SHARE_TWO_DISTRICT = 0.20
"""Of the applications that are not county-wide."""
SHARE_SECONDARY_GROUP = 0.15
SHARE_CONTINUING = 0.55
SHARE_NEGOTIATED = 0.25
BAND_SHARE = (0.16, 0.56, 0.28)
"""Share of applications in the small, medium and large bands (§5.4)."""
BAND_POUNDS_PER_YEAR = ((2_000, 10_000), (10_001, 50_000), (50_001, 150_000))
"""Yearly request range of each band (§5.4); front-loading can take year 1 to 110 % of it."""
SHARE_SMALL_ONE_YEAR = 0.60
SHARE_FRONT_LOADED = 0.20
"""Of medium and large bids: year 1 = 110 %, years 2-3 = 95 %."""
ROUND_TO_POUNDS = 100
"""Yearly requests are whole hundreds of pounds [SYNTHETIC]."""
LOCAL_CW_WEIGHT = 0.08
"""Relative chance that a local organisation's bid is county-wide [SYNTHETIC, tuned]."""

# -- scores ---------------------------------------------------------------------------
QUALITY_MEAN = 60.0
QUALITY_SD = 12.0
PANEL_BIAS_SD = 4.0
NOISE_SD = 6.0
QUALITY_BAND_SHIFT = (-1.0, 1.0, 5.0)
"""Added to true quality by size band (small, medium, large) [SYNTHETIC, tuned]: bigger bids
come from organisations with more delivery capacity (20 % of the score). Without it a single
harsh panel left one client group with too little fundable money to meet its share floor,
and most seeds spent well under £7m."""
SOCIAL_RHO = 0.4
"""Correlation of each social-capital latent score with true quality (§5.6)."""
SOCIAL_MEAN_COUNTY_WIDE = 2.25
SOCIAL_LOCAL_BONUS = 0.5
"""Small local organisations score +0.5 higher on the social-capital objectives (§5.6)."""

# -- East Sussex facts ------------------------------------------------------------------
ES_DISTRICTS: tuple[str, ...] = ("Eastbourne", "Hastings", "Lewes", "Rother", "Wealden")
ES_POPULATION = (99_412, 90_254, 97_502, 90_588, 148_915)
"""2011 census [FACT, S4]."""
ES_POP65 = (22_303, 15_401, 22_154, 25_763, 34_142)
"""Aged 65+, 2011 [FACT, S4; reported as 'retired']."""
ES_CARERS = (9_415, 8_665, 9_810, 9_329, 14_187)
"""Unpaid carers, 2021 census [FACT, S16] (2011 by district not found)."""
ES_IMD2010 = (24.78, 34.49, 15.81, 19.79, 11.81)
"""Population-weighted IMD 2010 score [FACT, S10]."""
ES_RURAL = (False, False, False, True, True)
"""Rother (52 % rural, S6) and Wealden (largely rural, S8): the 'Rother/Wealden bids' of §5.5."""
ES_DEPRIVED = (True, True, False, False, False)
"""Hastings and Eastbourne: the 'deprivation-targeted' districts of §5.5."""


@dataclass(frozen=True)
class Geography:
    """Districts grouped into regions of `per_region` districts (a region = one county)."""

    ids: tuple[str, ...]
    region_ids: tuple[str, ...]
    population: np.ndarray
    pop65: np.ndarray
    carers: np.ndarray
    imd: np.ndarray
    rural: np.ndarray
    deprived: np.ndarray
    per_region: int = 5

    def need_vectors(self) -> np.ndarray:
        """n × 4 shares of the national total: population, 65+, carers, population × IMD."""
        raw = np.stack([self.population, self.pop65, self.carers, self.population * self.imd], axis=1)
        return np.asarray(raw / raw.sum(axis=0), dtype=np.float64)

    def need(self) -> np.ndarray:
        """Default need share of each district: the mean of the four need vectors (§2.2)."""
        return np.asarray(self.need_vectors().mean(axis=1), dtype=np.float64)

    def group_need(self) -> np.ndarray:
        """regions × per_region × groups: each group's need split across a region's districts."""
        g = self.need_vectors() @ _NEED_MIX.T
        g = g.reshape(len(self.region_ids), self.per_region, len(GROUPS))
        return np.asarray(g / g.sum(axis=1, keepdims=True), dtype=np.float64)

    def districts(self) -> tuple[District, ...]:
        need = self.need()
        return tuple(
            District(id=d, population=int(p), need=float(w))
            for d, p, w in zip(self.ids, self.population, need, strict=True)
        )


def east_sussex_geography() -> Geography:
    """The five East Sussex districts as one region [FACT populations, DERIVED need]."""
    return Geography(
        ids=ES_DISTRICTS,
        region_ids=("East Sussex",),
        population=np.array(ES_POPULATION, dtype=np.float64),
        pop65=np.array(ES_POP65, dtype=np.float64),
        carers=np.array(ES_CARERS, dtype=np.float64),
        imd=np.array(ES_IMD2010, dtype=np.float64),
        rural=np.array(ES_RURAL),
        deprived=np.array(ES_DEPRIVED),
    )


@dataclass(frozen=True)
class RoundDraw:
    """Every random draw of a round, as arrays over applications (index i) and organisations."""

    org_sizes: np.ndarray
    org_region: np.ndarray
    org_county_wide: np.ndarray
    org_home: np.ndarray
    app_org: np.ndarray
    group: np.ndarray
    secondary: np.ndarray
    """Second client group, or -1."""
    scope: np.ndarray
    """0 single district, 1 two districts, 2 county-/region-wide."""
    d1: np.ndarray
    d2: np.ndarray
    band: np.ndarray
    """0 small, 1 medium, 2 large."""
    profile: np.ndarray
    """n × 3 pence per year."""
    quality: np.ndarray
    panel: np.ndarray
    panel_bias: np.ndarray
    outcome: np.ndarray
    social: np.ndarray
    continues: np.ndarray
    beneficiaries: np.ndarray
    flags: np.ndarray
    """n × len(FLAGS) booleans."""
    scope_cut: np.ndarray
    scope_cost: np.ndarray
    scope_score: np.ndarray
    geo_cut: np.ndarray
    geo_drop: np.ndarray
    """District dropped by the geography cut (global index), or -1."""

    @property
    def cost(self) -> np.ndarray:
        return np.asarray(self.profile.sum(axis=1), dtype=np.int64)


FLAGS: tuple[str, ...] = ("age", "disability", "carer", "rural", "bme", "lgbt", "deprivation")


def _choose(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of exactly k items drawn without replacement with these weights."""
    keys = np.log(rng.random(len(weights))) / np.maximum(weights, 1e-300)
    keys[weights <= 0] = -np.inf
    mask = np.zeros(len(weights), dtype=bool)
    if k > 0:
        mask[np.argpartition(-keys, k - 1)[:k]] = True
    return mask


def _categorical(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One draw per row of a row-stochastic matrix p (inverse CDF, vectorised)."""
    cdf = np.cumsum(p, axis=1)
    u = rng.random(len(p)) * cdf[:, -1]
    return np.asarray(np.minimum((cdf < u[:, None]).sum(axis=1), p.shape[1] - 1), dtype=np.int64)


def _log_uniform(
    rng: np.random.Generator, lo: np.ndarray | float, hi: np.ndarray | float, n: int
) -> np.ndarray:
    return np.asarray(np.exp(rng.uniform(np.log(lo), np.log(hi), n)), dtype=np.float64)


def _largest_remainder(target: np.ndarray, total: int) -> np.ndarray:
    """Integers summing to `total`, each the floor or ceiling of `target` (which sums to total)."""
    out: np.ndarray = np.floor(target).astype(np.int64)
    rest = total - int(out.sum())
    out[np.argsort(-(target - out), kind="stable")[:rest]] += 1
    return out


def _mean_request(band: int) -> float:
    """Expected 3-year request (£) of a bid in a band, from the draws below."""
    lo, hi = BAND_POUNDS_PER_YEAR[band]
    if band == 0:
        yearly = (lo + hi) / 2
        return yearly * (SHARE_SMALL_ONE_YEAR + YEARS * (1 - SHARE_SMALL_ONE_YEAR))
    return YEARS * (hi - lo) / float(np.log(hi / lo))


def band_counts(counties: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(small, large) bids per client group over `counties` counties.

    Every group gets the overall small share; large bids are spread so that each group's
    expected requested money is proportional to its indicative budget share [SYNTHETIC; the
    spec gives only the overall band shares]. Counts are exact and sum to the band totals.
    """
    apps = np.array(GROUP_APPLICATIONS, dtype=np.float64) * counties
    n = int(apps.sum())
    small = _largest_remainder(BAND_SHARE[0] * apps, round(BAND_SHARE[0] * n))
    means = [_mean_request(b) for b in range(3)]
    overall = sum(s * m for s, m in zip(BAND_SHARE, means, strict=True))
    target = overall * np.array(GROUP_BUDGET_SHARE) * n / apps  # mean request wanted per group
    rest = apps - small
    # mean = (small·m0 + (rest - L)·m1 + L·m2) / apps  =>  solve for L
    large_f = (target * apps - small * means[0] - rest * means[1]) / (means[2] - means[1])
    large_f = np.clip(large_f, 0.0, rest)
    large_f *= round(BAND_SHARE[2] * n) / large_f.sum()
    return small, _largest_remainder(large_f, round(BAND_SHARE[2] * n))


def draw_round(rng: np.random.Generator, geo: Geography) -> RoundDraw:
    """Draw every random quantity of a round over `geo`, as arrays (no per-bid loops).

    Each region is one East Sussex-like county: 73 organisations with the §5.5 histogram of
    applications and 173 applications with the §5.3 client-group counts.
    """
    n_groups = len(GROUPS)
    per = geo.per_region
    n_regions = len(geo.region_ids)
    need = geo.need()
    region_need = need.reshape(n_regions, per)
    group_need = geo.group_need()

    # organisations: sizes (the §5.5 histogram in every region), county-wide or local, home
    base_sizes = np.repeat(np.array(list(APPS_PER_ORG)), np.array(list(APPS_PER_ORG.values())))
    sizes = rng.permuted(np.tile(base_sizes, (n_regions, 1)), axis=1).ravel()
    n_org = len(sizes)
    org_region = np.repeat(np.arange(n_regions), len(base_sizes))
    weight = sizes.astype(np.float64)
    weight[sizes == max(APPS_PER_ORG)] = 1e12  # the big charity always works county-wide
    org_cw = _choose(rng, weight, round(SHARE_COUNTY_WIDE_ORGS * n_org))
    home_p = region_need[org_region]
    org_home = org_region * per + _categorical(rng, home_p)

    # applications: organisation, client groups (the §5.3 counts in every region)
    app_org = np.repeat(np.arange(n_org), sizes)
    n = len(app_org)
    region = org_region[app_org]
    base_groups = np.repeat(np.arange(n_groups), np.array(GROUP_APPLICATIONS))
    group = rng.permuted(np.tile(base_groups, (n_regions, 1)), axis=1).ravel()
    has_second = _choose(rng, np.ones(n), round(SHARE_SECONDARY_GROUP * n))
    secondary = np.where(has_second, _categorical(rng, _SECONDARY_AFFINITY[group]), -1)

    # scope and districts
    local_org = ~org_cw[app_org]
    cw = _choose(rng, np.where(local_org, LOCAL_CW_WEIGHT, 1.0), round(SHARE_COUNTY_WIDE_APPS * n))
    two = _choose(rng, (~cw).astype(np.float64), round(SHARE_TWO_DISTRICT * int((~cw).sum())))
    scope = np.where(cw, 2, np.where(two, 1, 0))
    p_group = group_need[region, :, group]  # n × per
    drawn = region * per + _categorical(rng, p_group)
    d1 = np.where(local_org, org_home[app_org], drawn)
    p_other = p_group.copy()
    p_other[np.arange(n), d1 - region * per] = 0.0
    d2 = np.where(scope == 1, region * per + _categorical(rng, p_other), -1)
    d1 = np.where(cw, -1, d1)

    # size bands, yearly amounts and profiles
    n_small, n_large = band_counts(n_regions)
    small = np.zeros(n, dtype=bool)
    large = np.zeros(n, dtype=bool)
    small_w = np.where(cw, 0.2, np.where((scope == 0) & local_org, 3.0, 1.0))
    large_w = np.where(cw | ~local_org, 2.0, 1.0)
    for g in range(n_groups):
        members = np.flatnonzero(group == g)
        small[members] = _choose(rng, small_w[members], int(n_small[g]))
        large[members] = _choose(rng, np.where(small[members], 0.0, large_w[members]), int(n_large[g]))
    band = np.where(small, 0, np.where(large, 2, 1))
    lo = np.array([b[0] for b in BAND_POUNDS_PER_YEAR], dtype=np.float64)[band]
    hi = np.array([b[1] for b in BAND_POUNDS_PER_YEAR], dtype=np.float64)[band]
    yearly = np.where(small, rng.uniform(lo, hi), _log_uniform(rng, lo, hi, n))
    step = ROUND_TO_POUNDS
    yearly = np.clip(np.round(yearly / step) * step, np.ceil(lo / step) * step, np.floor(hi / step) * step)
    a = yearly.astype(np.int64) * POUND
    one_year = _choose(rng, small.astype(np.float64), round(SHARE_SMALL_ONE_YEAR * int(small.sum())))
    front = _choose(rng, (~small).astype(np.float64), round(SHARE_FRONT_LOADED * int((~small).sum())))
    profile = np.stack([a, a, a], axis=1)
    profile[one_year, 1:] = 0
    profile[front] = np.stack([a[front] * 110 // 100, a[front] * 95 // 100, a[front] * 95 // 100], axis=1)

    # outcome scores: true quality + panel bias + noise (§5.6); one panel per client group
    # (national panels in scaled rounds too: regional panels let one harsh panel leave a
    # whole region-group without a fundable bid, which made NoNewGaps infeasible)
    quality = rng.normal(QUALITY_MEAN, QUALITY_SD, n) + np.array(QUALITY_BAND_SHIFT)[band]
    panel_bias = rng.normal(0.0, PANEL_BIAS_SD, n_groups)
    panel = group
    noise = rng.normal(0.0, NOISE_SD, n)
    outcome = np.round(np.clip(quality + panel_bias[panel] + noise, 0.0, 100.0), 1)

    # social-capital scores: integers 0-5, correlated with quality, higher for local orgs
    zq = (quality - QUALITY_MEAN) / QUALITY_SD
    latent = (
        SOCIAL_MEAN_COUNTY_WIDE
        + SOCIAL_LOCAL_BONUS * local_org[:, None]
        + SOCIAL_RHO * zq[:, None]
        + np.sqrt(1 - SOCIAL_RHO**2) * rng.standard_normal((n, 6))
    )
    social = np.clip(np.round(latent), 0, 5)

    continues = _choose(rng, np.ones(n), round(SHARE_CONTINUING * n))
    years_paid = (profile > 0).sum(axis=1)
    unit = _log_uniform(rng, _UNIT_COST[group, 0], _UNIT_COST[group, 1], n)
    beneficiaries = np.maximum(1, np.round(profile.sum(axis=1) / POUND / years_paid / unit)).astype(np.int64)

    # equality flags
    in_group = np.zeros((n, n_groups), dtype=bool)
    in_group[np.arange(n), group] = True
    in_group[np.flatnonzero(secondary >= 0), secondary[secondary >= 0]] = True
    local_bid = scope < 2
    rural_bid = local_bid & (geo.rural[np.maximum(d1, 0)] | ((d2 >= 0) & geo.rural[np.maximum(d2, 0)]))
    deprived_bid = local_bid & (
        geo.deprived[np.maximum(d1, 0)] | ((d2 >= 0) & geo.deprived[np.maximum(d2, 0)])
    )
    u = rng.random((n, 4))
    flags = np.stack(
        [
            in_group[:, 0],
            in_group[:, [2, 3, 5]].any(axis=1),
            in_group[:, 1],
            u[:, 0] < np.where(rural_bid, 0.5, 0.3),
            u[:, 1] < 0.05,
            u[:, 2] < 0.03,
            u[:, 3] < np.where(deprived_bid, 0.4, 0.1),
        ],
        axis=1,
    )

    # negotiated variants (§5.5): scope cut and, for multi-district bids, geography cut
    negotiated = _choose(rng, np.ones(n), round(SHARE_NEGOTIATED * n))
    kind = rng.random(n)
    multi = scope >= 1
    scope_cut = negotiated & (~multi | (kind < 0.75))
    geo_cut = negotiated & multi & ((kind < 0.5) | (kind >= 0.75))
    scope_cost = rng.uniform(0.70, 0.85, n)
    scope_score = rng.uniform(0.88, 0.96, n)
    pick = rng.random(n)
    drop_two = np.where(pick < 0.5, d1, d2)
    drop_wide = region * per + np.minimum((pick * per).astype(np.int64), per - 1)
    geo_drop = np.where(geo_cut, np.where(scope == 1, drop_two, drop_wide), -1)

    return RoundDraw(
        org_sizes=sizes,
        org_region=org_region,
        org_county_wide=org_cw,
        org_home=org_home,
        app_org=app_org,
        group=group,
        secondary=secondary,
        scope=scope,
        d1=d1,
        d2=d2,
        band=band,
        profile=profile,
        quality=quality,
        panel=panel,
        panel_bias=panel_bias,
        outcome=outcome,
        social=social,
        continues=continues,
        beneficiaries=beneficiaries,
        flags=flags,
        scope_cut=scope_cut,
        scope_cost=scope_cost,
        scope_score=scope_score,
        geo_cut=geo_cut,
        geo_drop=geo_drop,
    )


def _ids(prefix: str, n: int) -> list[str]:
    width = max(3, len(str(n)))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(n)]


def _round_pounds(pence: np.ndarray) -> list[int]:
    """Whole pounds (in pence), at least £1."""
    return np.maximum(POUND, np.round(pence / POUND) * POUND).astype(np.int64).tolist()  # type: ignore[no-any-return]


def application_columns(
    draw: RoundDraw, geo: Geography, county_wide_empty: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The applications and the variants of a draw as columns (see `Problem.from_columns`).

    County-wide bids list no districts when `county_wide_empty` (the model's "everywhere"),
    otherwise the districts of their region, which keeps national models sparse. Every
    number is computed on arrays; loops only assemble text and lists of names.
    """
    n = len(draw.app_org)
    per = geo.per_region
    ids = geo.ids
    app_ids = _ids("app-", n)
    org_ids = _ids("org-", len(draw.org_sizes))
    cost = draw.cost
    region = draw.org_region[draw.app_org]
    scope = draw.scope.tolist()
    d1 = draw.d1.tolist()
    d2 = draw.d2.tolist()
    regions = [tuple(ids[r * per : (r + 1) * per]) for r in range(len(geo.region_ids))]
    wide = "county-wide" if len(geo.region_ids) == 1 else "region-wide"
    served: list[tuple[str, ...]] = []
    titles: list[str] = []
    for i, (s, g, r) in enumerate(zip(scope, draw.group.tolist(), region.tolist(), strict=True)):
        names = regions[r] if s == 2 else (ids[d1[i]],) if s == 0 else (ids[d1[i]], ids[d2[i]])
        served.append(() if s == 2 and county_wide_empty else names)
        place = f"{wide} {geo.region_ids[r]}" if s == 2 else " and ".join(names)
        titles.append(f"{GROUP_TITLES[g]} service, {place}")
    flag_sets = [tuple(f for k, f in enumerate(FLAGS) if m >> k & 1) for m in range(1 << len(FLAGS))]
    flag_mask = (draw.flags.astype(np.int64) << np.arange(len(FLAGS))).sum(axis=1).tolist()
    pairs = [(g,) for g in GROUPS]
    applications = {
        "id": app_ids,
        "organisation": [org_ids[o] for o in draw.app_org.tolist()],
        "title": titles,
        "client_groups": [
            pairs[g] if g2 < 0 else (GROUPS[g], GROUPS[g2])
            for g, g2 in zip(draw.group.tolist(), draw.secondary.tolist(), strict=True)
        ],
        "districts": served,
        "cost": cost,
        "cost_profile": draw.profile,
        "outcome_score": draw.outcome,
        "social_scores": draw.social,
        "panel": [GROUPS[p] for p in draw.panel.tolist()],
        "beneficiaries": draw.beneficiaries,
        "equality_groups": [flag_sets[m] for m in flag_mask],
        "continues_service": draw.continues,
    }

    # negotiated variants, priced on arrays: a scope cut (lower cost and score), a geography cut
    # (one district fewer); an application's scope cut comes before its geography cut
    ben = draw.beneficiaries.astype(np.float64)
    scope_cost = np.array(_round_pounds(cost * draw.scope_cost), dtype=np.int64)
    scope_score = np.round(draw.outcome * draw.scope_score, 1)
    scope_ben = np.maximum(1, np.round(ben * scope_cost / cost)).astype(np.int64)
    pop = geo.population
    region_pop = pop.reshape(-1, per).sum(axis=1)
    served_pop = np.where(
        draw.scope == 2,
        region_pop[region],
        pop[np.maximum(draw.d1, 0)] + np.where(draw.d2 >= 0, pop[np.maximum(draw.d2, 0)], 0.0),
    )
    drop = draw.geo_drop
    geo_cost = np.array(
        _round_pounds(cost * (1.0 - np.where(drop >= 0, pop[np.maximum(drop, 0)], 0.0) / served_pop)),
        dtype=np.int64,
    )
    geo_ben = np.maximum(1, np.round(ben * geo_cost / cost)).astype(np.int64)
    cut_scope = np.flatnonzero(draw.scope_cut)
    cut_geo = np.flatnonzero(draw.geo_cut)
    parent = np.concatenate([cut_scope, cut_geo])
    is_geo = np.concatenate([np.zeros(len(cut_scope), dtype=bool), np.ones(len(cut_geo), dtype=bool)])
    order = np.lexsort((is_geo, parent))
    parent, is_geo = parent[order], is_geo[order]
    kept: list[tuple[str, ...] | None] = []
    for i, geo_cut in zip(parent.tolist(), is_geo.tolist(), strict=True):
        if not geo_cut:
            kept.append(None)
            continue
        gone = ids[int(drop[i])]
        whole = regions[int(region[i])] if scope[i] == 2 else (ids[d1[i]], ids[d2[i]])
        kept.append(tuple(d for d in whole if d != gone))
    variants = {
        "application_id": [app_ids[i] for i in parent.tolist()],
        "id": ["geography-cut" if g else "scope-cut" for g in is_geo.tolist()],
        "cost": np.where(is_geo, geo_cost[parent], scope_cost[parent]),
        "outcome_score": np.where(is_geo, np.nan, scope_score[parent]),
        "districts": kept,
        "beneficiaries": np.where(is_geo, geo_ben[parent], scope_ben[parent]),
    }
    return applications, variants


def build_applications(draw: RoundDraw, geo: Geography, county_wide_empty: bool) -> tuple[Application, ...]:
    """The applications of a draw as validated Application objects, one by one (the columns
    of `application_columns`, made into objects: the object-by-object way into a Problem)."""
    columns, table = application_columns(draw, geo, county_wide_empty)
    variants: dict[str, list[Variant]] = {}
    for app_id, var_id, var_cost, score, districts, ben in zip(
        table["application_id"],
        table["id"],
        table["cost"].tolist(),
        table["outcome_score"].tolist(),
        table["districts"],
        table["beneficiaries"].tolist(),
        strict=True,
    ):
        given = {"outcome_score": score} if not math.isnan(score) else {"districts": districts}
        variants.setdefault(app_id, []).append(Variant(id=var_id, cost=var_cost, beneficiaries=ben, **given))
    lists = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in columns.items()}
    fields = list(lists)
    return tuple(
        Application(
            **{
                k: tuple(v) if k in ("cost_profile", "social_scores") else v
                for k, v in zip(fields, row, strict=True)
            },
            variants=tuple(variants.get(row[0], ())),
        )
        for row in zip(*lists.values(), strict=True)
    )


def client_groups() -> tuple[ClientGroup, ...]:
    """The seven client groups, need = indicative budget share (§5.3)."""
    return tuple(ClientGroup(id=g, need=s) for g, s in zip(GROUPS, GROUP_BUDGET_SHARE, strict=True))


def group_share_rules() -> list[Rule]:
    """One Coverage rule per client group: its share of awarded money within its band."""
    return [
        Coverage(over="client_group", key=g, min_share=lo, max_share=hi)
        for g, (lo, hi) in zip(GROUPS, GROUP_SHARE_BAND, strict=True)
    ]


# -- the East Sussex round ---------------------------------------------------------------
BUDGET_TOTAL_POUNDS = 9_000_000
SMALL_POT_POUNDS = 300_000
SMALL_BAND_MAX_PER_YEAR_POUNDS = 10_000
DISTRICT_MIN_POUNDS = 250_000
EQUALITY_TOLERANCE = 0.05
ORG_MAX_SHARE = 0.15
ORG_MAX_AWARDS = 4
MIN_ORGANISATIONS = 40
INFEASIBLE_EQUALITY_TOLERANCE = 0.02
FLOOR_DISTRICT = "Wealden"
INFEASIBLE_POPULATION_FLOOR = 0.28
"""Wealden's population share (28.3 %) as a floor; its need share is 25.2 %, so ±2 pp caps it at 27.2 %."""

Setting = Literal["default", "infeasible"]


@dataclass(frozen=True)
class EastSussexLatent:
    """The hidden truth behind the panel scores, for robustness analysis.

    outcome_score = clip(true_quality + panel_bias[panel] + N(0, noise_sd), 0, 100), rounded to
    0.1; true_quality ~ N(quality_mean + QUALITY_BAND_SHIFT[band], quality_sd). A scope-cut
    variant scores outcome_score × variant_score_factor[application id]. Tuples follow the
    order of Problem.applications.
    """

    application_ids: tuple[str, ...]
    true_quality: tuple[float, ...]
    panels: tuple[str, ...]
    panel_bias: Mapping[str, float]
    variant_score_factor: Mapping[str, float]
    quality_mean: float = QUALITY_MEAN
    quality_sd: float = QUALITY_SD
    panel_bias_sd: float = PANEL_BIAS_SD
    noise_sd: float = NOISE_SD


def _draw_es(seed: int) -> tuple[Geography, RoundDraw]:
    geo = east_sussex_geography()
    return geo, draw_round(np.random.default_rng(seed), geo)


def east_sussex_2011(
    seed: int = 2011,
    *,
    setting: Setting = "default",
    social_value_share: float = 0.2,
    pass_mark: float = 60.0,
) -> Problem:
    """The East Sussex 2011 reference round: 173 synthetic bids from 73 organisations.

    `setting="infeasible"` tightens the equality band to ±2 pp of need and adds a floor of
    28 % of the money for Wealden (its population share): Wealden's need share is 25.2 %, so
    no allocation that funds anything can meet both (a demo for the conflict diagnosis).
    `social_value_share` is the weight of the six social-capital objectives in value;
    `pass_mark` the minimum outcome score. The same seed always gives the same Problem.
    """
    if setting not in ("default", "infeasible"):
        raise ValueError(f"setting must be 'default' or 'infeasible', not {setting!r}")
    geo, draw = _draw_es(seed)
    infeasible = setting == "infeasible"
    rules: list[Rule] = [
        Pot(
            name="small grants",
            max_per_year=SMALL_BAND_MAX_PER_YEAR_POUNDS * POUND,
            amount=SMALL_POT_POUNDS * POUND,
            ring_fenced=True,
        ),
        *group_share_rules(),
        Coverage(over="district", min_amount=DISTRICT_MIN_POUNDS * POUND),
        EqualityGap(
            over="district",
            basis="need",
            tolerance=INFEASIBLE_EQUALITY_TOLERANCE if infeasible else EQUALITY_TOLERANCE,
        ),
    ]
    if infeasible:
        rules.append(Coverage(over="district", key=FLOOR_DISTRICT, min_share=INFEASIBLE_POPULATION_FLOOR))
    # MinOrganisations before NoNewGaps: the conflict search drops rule groups in order, and
    # NoNewGaps' few rows make a shorter explanation than MinOrganisations' per-organisation links.
    rules += [
        OrganisationCap(max_share=ORG_MAX_SHARE, max_awards=ORG_MAX_AWARDS),
        MinOrganisations(count=MIN_ORGANISATIONS),
        NoNewGaps(),
        PassMark(min_outcome=pass_mark),
    ]
    total = BUDGET_TOTAL_POUNDS * POUND
    applications = build_applications(draw, geo, county_wide_empty=True)
    return Problem(
        name=f"east_sussex_2011(seed={seed}, setting={setting})",
        applications=applications,
        organisations=organisation_tags(applications, seed),
        districts=geo.districts(),
        client_groups=client_groups(),
        budget=Budget(total=total, per_year=(total // YEARS,) * YEARS),
        rules=tuple(rules),
        weights=Weights(social_value_share=social_value_share),
        attribution="population",
    )


ORGANISATION_TAGS: tuple[tuple[str, float], ...] = (
    ("user-led", 0.25),
    ("small local group", 0.35),
    ("equality-led", 0.15),
)
"""Synthetic organisation tags and the share of organisations carrying each (not from the
prospectus: labelled synthetic data, docs/scenarios.md). 'new provider' is derived: an
organisation none of whose applications continues a service today."""
TAG_STREAM = 12
"""The random stream of the tags, apart from the round's own draws: adding tags leaves every
application (and so every allocation) of a seed exactly as it was."""


def organisation_tags(applications: tuple[Application, ...], seed: int = 2011) -> tuple[Organisation, ...]:
    """Synthetic tags for the organisations of an East Sussex round (see ORGANISATION_TAGS)."""
    rng = np.random.default_rng([seed, TAG_STREAM])
    orgs = sorted({a.organisation for a in applications})
    continuing = {a.organisation for a in applications if a.continues_service}
    draws = rng.random((len(orgs), len(ORGANISATION_TAGS)))
    out = []
    for o, row in zip(orgs, draws, strict=True):
        tags = [t for (t, p), u in zip(ORGANISATION_TAGS, row, strict=True) if u < p]
        if o not in continuing:
            tags.append("new provider")
        if tags:
            out.append(Organisation(id=o, tags=tuple(sorted(tags))))
    return tuple(out)


def issue12_targets(problem: Problem) -> list[Rule]:
    """Spend targets and tag rules for the reference round (docs/scenarios.md): spend at least
    90% of the budget and 80% of each year's, at least 20% of the money to user-led
    organisations, at least five awards to new providers, and small local groups' share of
    the money within 30% ± 10 pp."""
    return [
        MinSpend(min_share=0.9),
        MinSpend(year="each", min_share=0.8),
        Coverage(over="tag", key="user-led", min_share=0.2),
        Coverage(over="tag", key="new provider", min_count=5),
        EqualityGap(over="tag", target_shares={"small local group": 0.3}, tolerance=0.1),
    ]


def east_sussex_2011_latent(seed: int = 2011) -> EastSussexLatent:
    """The true quality, panel biases and noise level behind `east_sussex_2011(seed)`'s scores."""
    _, draw = _draw_es(seed)
    ids = _ids("app-", len(draw.app_org))
    return EastSussexLatent(
        application_ids=tuple(ids),
        true_quality=tuple(draw.quality.tolist()),
        panels=tuple(GROUPS[p] for p in draw.panel.tolist()),
        panel_bias=MappingProxyType(dict(zip(GROUPS, draw.panel_bias.tolist(), strict=True))),
        variant_score_factor=MappingProxyType(
            {ids[i]: float(draw.scope_score[i]) for i in np.flatnonzero(draw.scope_cut).tolist()}
        ),
    )
