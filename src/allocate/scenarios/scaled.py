"""Scaled benchmark rounds: the East Sussex structure as a national programme.

``scaled(factor)`` has 173 × factor applications from 73 × factor organisations over
`factor` synthetic counties ("regions") of five districts each. County-wide bids become
region-wide: they list the five districts of their region, never the whole country, so
every application touches at most five districts and the constraint matrix stays sparse.
Budget, small-grants pot and the organisation floor scale with `factor`; per-organisation
caps stay at their East Sussex values; the district equality band becomes a ratio band,
since an absolute ±5 pp band is meaningless when each district holds 0.02 % of the need.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from allocate.domain.model import Problem
from allocate.domain.parts import Budget, Weights
from allocate.domain.rules import (
    Coverage,
    EqualityGap,
    MinOrganisations,
    NoNewGaps,
    OrganisationCap,
    PassMark,
    Pot,
    Rule,
)
from allocate.domain.tally import cell_key
from allocate.scenarios.east_sussex import (
    BUDGET_TOTAL_POUNDS,
    GROUPS,
    MIN_ORGANISATIONS,
    ORG_MAX_AWARDS,
    ORG_MAX_SHARE,
    POUND,
    SMALL_BAND_MAX_PER_YEAR_POUNDS,
    SMALL_POT_POUNDS,
    YEARS,
    Geography,
    RoundDraw,
    application_columns,
    client_groups,
    draw_round,
    group_share_rules,
)

DISTRICTS_PER_REGION = 5
POPULATION_MEDIAN = 115_000
POPULATION_SIGMA = 0.45
"""Log-normal spread of district populations [SYNTHETIC; English LADs range ~30k-1.1m]."""
POPULATION_RANGE = (30_000, 1_100_000)
IMD_MEAN = 20.0
IMD_SD = 8.0
"""IMD-like deprivation score, gamma-distributed [SYNTHETIC; LA averages run ~5-45, mean ~20]."""
DEPRIVED_IMD = 22.0
"""Districts at or above this score count as deprived (Eastbourne 24.8 and Hastings 34.5 do)."""
EQUALITY_RATIO = (1 / 3, 3.0)
"""Each district's share of awarded money within 1/3-3 × its share of need [SYNTHETIC, tuned:
with 0.5-2 the weakest of 50 districts cut one seed's national spend by a fifth]."""
PASS_MARK = 60.0


def national_geography(rng: np.random.Generator, regions: int) -> Geography:
    """`regions` × 5 synthetic districts with realistic population, age, carers and deprivation."""
    n = regions * DISTRICTS_PER_REGION
    lo, hi = POPULATION_RANGE
    population = np.clip(np.round(POPULATION_MEDIAN * np.exp(rng.normal(0.0, POPULATION_SIGMA, n))), lo, hi)
    shape = (IMD_MEAN / IMD_SD) ** 2
    imd = np.round(rng.gamma(shape, IMD_MEAN / shape, n), 2)
    # older districts tend to be less deprived and to have more carers (as in East Sussex)
    share65 = np.clip(0.19 - 0.015 * (imd - IMD_MEAN) / IMD_SD + rng.normal(0.0, 0.035, n), 0.08, 0.32)
    share_carers = np.clip(0.10 + 0.1 * (share65 - 0.19) + rng.normal(0.0, 0.012, n), 0.06, 0.14)
    width = max(3, len(str(regions)))
    region_ids = tuple(f"R{r + 1:0{width}d}" for r in range(regions))
    ids = tuple(f"{r}-D{k + 1}" for r in region_ids for k in range(DISTRICTS_PER_REGION))
    return Geography(
        ids=ids,
        region_ids=region_ids,
        population=population,
        pop65=np.round(population * share65),
        carers=np.round(population * share_carers),
        imd=imd,
        rural=(share65 > 0.20) & (imd < IMD_MEAN),
        deprived=imd >= DEPRIVED_IMD,
        per_region=DISTRICTS_PER_REGION,
    )


def coverable_cells(draw: RoundDraw, geo: Geography, pass_mark: float) -> tuple[str, ...]:
    """District × group cells served today that at least one bid passing the mark can serve.

    NoNewGaps keeps these. Over thousands of cells a few are always served today only by
    bids that fail the pass mark; requiring those would make every national round
    infeasible, so they are left to re-commissioning [SYNTHETIC].
    """
    per = geo.per_region
    n_groups = len(GROUPS)
    scope = draw.scope
    region = draw.org_region[draw.app_org]
    counts = np.where(scope == 2, per, scope + 1)
    app = np.repeat(np.arange(len(scope)), counts)
    offset = np.arange(len(app)) - np.repeat(np.cumsum(counts) - counts, counts)
    district = np.where(
        scope[app] == 2, region[app] * per + offset, np.where(offset == 0, draw.d1[app], draw.d2[app])
    )
    second = draw.secondary[app] >= 0
    app = np.concatenate([app, app[second]])
    cell = np.concatenate([district, district[second]]) * n_groups
    cell += np.concatenate([draw.group[app[: len(district)]], draw.secondary[app[len(district) :]]])
    today = np.unique(cell[draw.continues[app]])
    keep = np.intersect1d(today, cell[draw.outcome[app] >= pass_mark])
    return tuple(cell_key(geo.ids[c // n_groups], GROUPS[c % n_groups]) for c in keep.tolist())


def scaled(factor: int, seed: int = 2011) -> Problem:
    """A national round with 173 × factor applications over 5 × factor districts.

    Deterministic by seed. Rules: the ring-fenced small-grants pot (£300k × factor), the
    client-group share bands, at least one award reaching every district, each district's
    money share within 1/3-3 × its need share, no new gaps, at most £1.35m and 4 awards per
    organisation, at least 40 × factor organisations funded, pass mark 60. Built from columns
    (`scaled_columns`, `Problem.from_columns`).
    """
    applications, variants, fields = scaled_columns(factor, seed)
    return Problem.from_columns(applications, variants=variants, **fields)


def scaled_columns(factor: int, seed: int = 2011) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """`scaled`'s round before validation: its applications and variants as columns, and every
    other Problem field (``Problem.from_columns(applications, variants=variants, **fields)``)."""
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive integer, not {factor!r}")
    rng = np.random.default_rng(seed)
    geo = national_geography(rng, factor)
    draw = draw_round(rng, geo)
    total = BUDGET_TOTAL_POUNDS * POUND * factor
    rules: list[Rule] = [
        Pot(
            name="small grants",
            max_per_year=SMALL_BAND_MAX_PER_YEAR_POUNDS * POUND,
            amount=SMALL_POT_POUNDS * POUND * factor,
            ring_fenced=True,
        ),
        *group_share_rules(),
        Coverage(over="district", min_count=1),
        EqualityGap(over="district", basis="need", ratio=EQUALITY_RATIO),
        OrganisationCap(
            max_amount=round(ORG_MAX_SHARE * BUDGET_TOTAL_POUNDS) * POUND, max_awards=ORG_MAX_AWARDS
        ),
        MinOrganisations(count=MIN_ORGANISATIONS * factor),
        NoNewGaps(cells=coverable_cells(draw, geo, PASS_MARK)),
        PassMark(min_outcome=PASS_MARK),
    ]
    applications, variants = application_columns(draw, geo, county_wide_empty=False)
    fields = {
        "name": f"scaled(factor={factor}, seed={seed})",
        "districts": geo.districts(),
        "client_groups": client_groups(),
        "budget": Budget(total=total, per_year=(total // YEARS,) * YEARS),
        "rules": tuple(rules),
        "weights": Weights(social_value_share=0.2),
        "attribution": "population",
    }
    return applications, variants, fields
