"""The ``commitments`` table: grants from earlier rounds still paying out in this round's years.

One row per commitment: ``id``, ``organisation``, ``client_groups`` (;), ``districts`` (;, empty =
county-wide), ``tags`` (;), ``counts_toward`` (; of coverage, equality_gap, organisation_cap,
min_spend), ``total_pence``/``total_pounds`` and ``year_1..N`` in the same unit (one per budget
year, summing to the total; with a one-year budget they may be left out).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from allocate.domain.model import Problem
from allocate.io.cells import LIST_SEPARATOR, Row, Spec
from allocate.io.safe import Cell

SPEC = Spec(
    ("id", "organisation", "client_groups"),
    ("districts", "tags", "counts_toward"),
    ("year_",),
    ("total",),
)


def read(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """The commitments of the table (errors name row and column)."""
    out = []
    for r in rows:
        column, pounds = r.required_money_column("total")
        total = r.pence(column, pounds)
        if total is None:
            raise r.fail(column, "is empty but required")
        years = r.numbered("year_", pounds=pounds)
        if years is not None and sum(years) != total:
            raise r.fail(column, f"is {total} pence but year_1.. sum to {sum(years)}")
        groups = r.names("client_groups")
        if not groups:
            raise r.fail("client_groups", "is empty but required (';'-separated client group ids)")
        out.append(
            {
                "id": r.required_text("id"),
                "organisation": r.required_text("organisation"),
                "amounts": years if years is not None else (total,),
                "client_groups": groups,
                "districts": r.names("districts"),
                "tags": r.names("tags"),
                "counts_toward": r.names("counts_toward"),
            }
        )
    return out


def table(
    problem: Problem, money: str, m: Callable[[int], Cell]
) -> tuple[list[str], list[list[Cell]]] | None:
    """The commitments as a table (money in pence or pounds via `m`; None when there is none)."""
    if not problem.commitments:
        return None
    years = problem.budget.years
    header = [
        "id",
        "organisation",
        "client_groups",
        "districts",
        "tags",
        "counts_toward",
        f"total_{money}",
        *(f"year_{y + 1}" for y in range(years)),
    ]
    body: list[list[Cell]] = [
        [
            c.id,
            c.organisation,
            LIST_SEPARATOR.join(c.client_groups),
            LIST_SEPARATOR.join(c.districts),
            LIST_SEPARATOR.join(c.tags),
            LIST_SEPARATOR.join(c.counts_toward),
            m(c.total),
            *(m(a) for a in c.amounts),
        ]
        for c in problem.commitments
    ]
    return header, body
