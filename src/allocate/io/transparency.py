"""The grant fields of the Local Government Transparency Code 2015, under the round's publisher.

One row per award to a voluntary, community or social enterprise organisation: the publishing
council's name and code, date awarded, time period, department, beneficiary, registration
number, purpose and amount (exact pounds). The council is the round's `Publisher`; East
Sussex's is used only for a round of East Sussex districts (`publisher_for`).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from allocate.domain.model import Problem
from allocate.engine.result import Allocation
from allocate.io.publisher import Publisher, publisher_for
from allocate.io.safe import Cell
from allocate.io.write import pounds_text, write_csv

HEADER = [
    "Organisation name",
    "Organisation code",
    "Date awarded",
    "Time period",
    "Department",
    "Beneficiary",
    "Beneficiary registration number",
    "Summary of the purpose of the grant",
    "Amount (£)",
]
"""The Code's grant fields, plus the publishing council's name and code."""

_REGISTERED = re.compile(r"GB-(?:CHC|SC|NIC|COH)-(.+)")
"""org-id identifiers that carry a charity or company registration number."""


def transparency_rows(
    problem: Problem, allocation: Allocation, publisher: Publisher | None = None
) -> tuple[list[str], list[list[Cell]]]:
    """Transparency Code rows: one per award (time period in months from the award's profile).

    The registration number comes from `Publisher.organisation_ids` when it is a charity or
    company org-id (GB-CHC-, GB-SC-, GB-NIC-, GB-COH-); otherwise it is left blank.
    """
    pub = publisher_for(problem, publisher, department=True)
    when = (pub.award_date or date.today()).isoformat()
    rows: list[list[Cell]] = []
    for aw in allocation.awards:
        app = problem.application(aw.application)
        months = 12 * (max((i for i, p in enumerate(aw.profile) if p), default=0) + 1)
        registered = _REGISTERED.fullmatch(pub.organisation_ids.get(aw.organisation, ""))
        rows.append(
            [
                pub.funder_name,
                pub.area_code,
                when,
                f"{months} months",
                pub.department,
                aw.organisation,
                registered.group(1) if registered else "",
                app.title or app.id,
                pounds_text(aw.amount),
            ]
        )
    return list(HEADER), rows


def write_transparency_csv(
    problem: Problem, allocation: Allocation, path: str | Path, publisher: Publisher | None = None
) -> None:
    """The Transparency Code grant fields as CSV."""
    write_csv(Path(path), *transparency_rows(problem, allocation, publisher))
