"""Social-value proxies: turn social-capital scores into an estimate in pounds.

Councils may hold licensed proxy values (e.g. the National TOMs or the HACT Social Value
Bank). Those tables are licensed (often CC BY-NC-ND) and are never bundled here: users load
their own CSV. The estimate for an award is, for each social objective,

    score on that objective × proxy (pence per score point per award-year) × years funded

summed over objectives, rounded to whole pence. Only a made-up example table ships
(`examples/social_value_proxies_example.csv`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field

from allocate.domain.errors import InvalidProblemError
from allocate.domain.model import Problem
from allocate.domain.schema import Frozen, Name
from allocate.engine.result import Allocation
from allocate.engine.verify import resolve


class Proxy(Frozen):
    """The value of one score point on one social objective, per award-year, in pence."""

    objective: Name
    pence_per_point: Annotated[int, Field(strict=True, ge=0)]
    source: str = ""


class ProxyTable(Frozen):
    """A user's proxy values for the problem's social objectives."""

    name: str
    licence: str = "user-supplied; not redistributed with allocate"
    proxies: tuple[Proxy, ...] = Field(min_length=1)


@dataclass(frozen=True)
class SocialValueEstimate:
    """Estimated social value in pence, per funded application and in total."""

    per_award: dict[str, int]
    total: int
    table: str


def load_proxies(path: str | Path) -> ProxyTable:
    """Read a CSV with columns objective, pounds_per_point (or pence_per_point), source."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidProblemError((str(file),), f"is not UTF-8 text ({exc.reason})") from None
    rows = list(csv.DictReader(text.splitlines()))
    proxies = []
    for n, row in enumerate(rows, start=2):
        where = f"{file.name} row {n}"
        objective = (row.get("objective") or "").strip()
        if not objective:
            raise InvalidProblemError((f"{where}, column objective",), "is empty")
        proxies.append(
            Proxy(
                objective=objective,
                pence_per_point=_pence(row, where),
                source=(row.get("source") or "").strip(),
            )
        )
    if not proxies:
        raise InvalidProblemError((str(file),), "has no proxy rows")
    return ProxyTable(name=file.stem, proxies=tuple(proxies))


def _pence(row: dict[str, str], where: str) -> int:
    from decimal import Decimal, InvalidOperation

    if row.get("pence_per_point"):
        column, scale = "pence_per_point", Decimal(1)
    elif row.get("pounds_per_point"):
        column, scale = "pounds_per_point", Decimal(100)
    else:
        raise InvalidProblemError((f"{where}, column pounds_per_point",), "is missing")
    raw = row[column].strip().replace("£", "").replace(",", "")
    try:
        value = Decimal(raw) * scale
    except InvalidOperation:
        raise InvalidProblemError((f"{where}, column {column}",), f"{raw!r} is not a number") from None
    if value != value.to_integral_value() or value < 0:
        raise InvalidProblemError(
            (f"{where}, column {column}",), f"{raw!r} is not a whole, non-negative number of pence"
        )
    return int(value)


def social_value_in_pounds(
    problem: Problem, allocation: Allocation, table: ProxyTable
) -> SocialValueEstimate:
    """Estimate each award's social value with the user's proxies (see module docstring)."""
    by_objective = {p.objective: p.pence_per_point for p in table.proxies}
    missing = [o for o in problem.social_objectives if o not in by_objective]
    if missing:
        raise InvalidProblemError(
            ("ProxyTable", "proxies"), f"has no proxy for objective {missing[0]!r} (table {table.name!r})"
        )
    chosen, _ = resolve(problem, [(a.application, a.variant) for a in allocation.awards])
    per_award = {}
    for c in chosen:
        years = sum(1 for amount in c.profile if amount > 0)
        points = sum(
            s * by_objective[o] for o, s in zip(problem.social_objectives, c.social_scores, strict=True)
        )
        per_award[c.application.id] = round(points * years)
    return SocialValueEstimate(per_award, sum(per_award.values()), table.name)
