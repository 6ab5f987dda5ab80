"""Publish awards in the 360Giving Data Standard: the flat CSV and a JSON grant package.

One grant per award, under the round's `Publisher` (see `allocate.io.publisher`: East Sussex's
only for a round of East Sussex districts). Amounts are in pounds (exact, from pence);
beneficiary locations carry the publisher's ONS district codes, one location per district.
Organisations without a charity or company identifier get a 360Giving ``360G-`` identifier
made from the funder prefix and the organisation name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from allocate.domain.model import Problem
from allocate.engine.result import Allocation, Award
from allocate.io import atomic
from allocate.io.publisher import Publisher, publisher_for
from allocate.io.safe import Cell
from allocate.io.write import pounds_text, write_csv

SCHEMA_VERSION = "1.4"

CSV_HEADER = [
    "Identifier", "Title", "Description", "Currency", "Amount Applied For", "Amount Awarded",
    "Award Date", "Planned Dates:Duration (months)", "Recipient Org:Identifier", "Recipient Org:Name",
    "Funding Org:Identifier", "Funding Org:Name", "Funding Org:Department",
    "Grant Programme:Title", "From an open call?", "Last modified",
]  # fmt: skip
"""The columns of the flat CSV before the beneficiary locations (`location_columns`)."""


def location_columns(groups: int) -> list[str]:
    """One numbered column group per location, as 360Giving's flat format (flatten-tool) reads them."""
    return [
        f"Beneficiary Location:{i}:{field}"
        for i in range(groups)
        for field in ("Name", "Geographic Code", "Geographic Code Type", "Country Code")
    ]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _amount(pence: int) -> int | float:
    return pence // 100 if pence % 100 == 0 else float(Decimal(pence) / 100)


@dataclass(frozen=True)
class _Grant:
    award: Award
    title: str
    description: str
    applied: int
    locations: list[tuple[str, str, str]]
    months: int


def _grants(problem: Problem, allocation: Allocation, pub: Publisher) -> list[_Grant]:
    out = []
    for aw in allocation.awards:
        app = problem.application(aw.application)
        var = next((v for v in app.variants if v.id == aw.variant), None)
        districts = var.districts if var is not None and var.districts is not None else app.districts
        if not districts:
            locations = [(pub.area_name, pub.area_code, pub.area_code_type)]
        else:  # publisher_for has checked every district has a code
            locations = [(d, pub.district_codes[d], pub.district_code_type) for d in districts]
        where = ", ".join(districts) if districts else pub.area_name
        description = f"{app.title or app.id}: for {', '.join(app.client_groups)} in {where}"
        if aw.variant:
            description += f" (negotiated option {aw.variant})"
        months = 12 * (max((i for i, p in enumerate(aw.profile) if p), default=0) + 1)
        out.append(_Grant(aw, app.title or app.id, description, app.cost, locations, months))
    return out


def _ids(aw: Award, pub: Publisher, round_name: str) -> tuple[str, str]:
    grant_id = f"{pub.prefix}-{_slug(round_name)}-{_slug(aw.application)}"
    if aw.variant:
        grant_id += f"-{_slug(aw.variant)}"
    org_id = pub.organisation_ids.get(aw.organisation, f"{pub.prefix}-org-{_slug(aw.organisation)}")
    return grant_id, org_id


def grants_rows(
    problem: Problem, allocation: Allocation, publisher: Publisher | None = None
) -> tuple[list[str], list[list[Cell]]]:
    """The 360Giving flat CSV: header and one row per award.

    Each beneficiary location has its own numbered column group (``Beneficiary Location:0:Name``,
    ``...:1:Name``, ...), as many groups as the award with the most districts needs, so that
    360Giving's flatten-tool turns a row into the same grant as the JSON package.
    """
    pub = publisher_for(problem, publisher)
    when = (pub.award_date or date.today()).isoformat()
    modified = (pub.modified or datetime.now(UTC)).replace(microsecond=0).isoformat()
    grants = _grants(problem, allocation, pub)
    groups = max((len(g.locations) for g in grants), default=1)
    rows: list[list[Cell]] = []
    for g in grants:
        grant_id, org_id = _ids(g.award, pub, problem.name)
        places: list[Cell] = [v for n, c, t in g.locations for v in (n, c, t, "GB")]
        places += [None] * (4 * groups - len(places))
        rows.append(
            [
                grant_id,
                g.title,
                g.description,
                "GBP",
                pounds_text(g.applied),
                pounds_text(g.award.amount),
                when,
                g.months,
                org_id,
                g.award.organisation,
                pub.funder_id,
                pub.funder_name,
                pub.department,
                pub.programme or problem.name,
                "Yes",
                modified,
                *places,
            ]
        )
    return [*CSV_HEADER, *location_columns(groups)], rows


def write_360giving_csv(
    problem: Problem, allocation: Allocation, path: str | Path, publisher: Publisher | None = None
) -> None:
    """Write the 360Giving flat CSV (cells neutralised like every CSV allocate writes)."""
    write_csv(Path(path), *grants_rows(problem, allocation, publisher))


def grants_package(
    problem: Problem, allocation: Allocation, publisher: Publisher | None = None
) -> dict[str, Any]:
    """A 360Giving JSON grant package (validates against 360-giving-package-schema.json)."""
    pub = publisher_for(problem, publisher)
    when = (pub.award_date or date.today()).isoformat()
    modified = (pub.modified or datetime.now(UTC)).replace(microsecond=0).isoformat()
    grants = []
    for g in _grants(problem, allocation, pub):
        grant_id, org_id = _ids(g.award, pub, problem.name)
        grants.append(
            {
                "id": grant_id,
                "title": g.title,
                "description": g.description,
                "currency": "GBP",
                "amountAppliedFor": _amount(g.applied),
                "amountAwarded": _amount(g.award.amount),
                "awardDate": when,
                "plannedDates": [{"duration": g.months}],
                "recipientOrganization": [{"id": org_id, "name": g.award.organisation}],
                "fundingOrganization": [
                    {"id": pub.funder_id, "name": pub.funder_name}
                    | ({"department": pub.department} if pub.department else {})
                ],
                "beneficiaryLocation": [
                    {"name": n, "geoCode": c, "geoCodeType": t, "countryCode": "GB"}
                    for n, c, t in g.locations
                ],
                "grantProgramme": [{"title": pub.programme or problem.name}],
                "fromOpenCall": "Yes",
                "dateModified": modified,
            }
        )
    return {"grants": grants, "version": SCHEMA_VERSION, "title": f"{pub.funder_name}: {problem.name}"}


def write_360giving_json(
    problem: Problem, allocation: Allocation, path: str | Path, publisher: Publisher | None = None
) -> None:
    """Write the 360Giving JSON grant package (atomically, like every file allocate writes)."""
    import json

    atomic.write_text(path, json.dumps(grants_package(problem, allocation, publisher), indent=2))
