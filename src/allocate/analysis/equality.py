"""Equality impact summary for the public sector equality duty (Equality Act 2010, s.149).

Money (attributed pro rata, as the rules attribute it) and number of awards by district,
client group and equality group served, each against its share of need or population, and by
tag (of an application or its organisation) against its declared target; and the
district × client-group cells that lose all provision: served today by an application
that continues a service, with no award serving them after.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from allocate.domain.model import Problem
from allocate.domain.money import pounds
from allocate.domain.rules import EqualityGap, NoNewGaps
from allocate.domain.tally import Tally
from allocate.engine.result import Allocation
from allocate.engine.verify import resolve

NO_GROUP = "(none stated)"


@dataclass(frozen=True)
class EqualityLine:
    """One district, client group or equality group: what it gets against its benchmark share."""

    dimension: str
    key: str
    money: float
    share: float
    awards: int
    benchmark: str
    benchmark_share: float | None

    @property
    def gap(self) -> float | None:
        """Share of money minus benchmark share (negative: gets less than its share)."""
        return None if self.benchmark_share is None else self.share - self.benchmark_share


@dataclass(frozen=True)
class EqualitySummary:
    """The equality impact of an allocation; `text()` for people, `to_rows()` for CSV."""

    name: str
    total: int
    lines: tuple[EqualityLine, ...]
    lost_cells: tuple[str, ...]
    served_today: int

    def text(self) -> str:
        out = [f"Equality impact summary: {self.name} ({pounds(self.total)} awarded)"]
        for dim, title in (
            ("district", "District"),
            ("client_group", "Client group"),
            ("equality_group", "Equality group"),
            ("tag", "Tag"),
        ):
            lines = [x for x in self.lines if x.dimension == dim]
            if not lines:
                continue
            out.append(f"{title:<24} {'money':>15} {'share':>7} {'awards':>6}  benchmark")
            for x in lines:
                bench = (
                    ""
                    if x.benchmark_share is None
                    else f"{x.benchmark_share:6.1%} {x.benchmark} (gap {x.gap:+.1%})"
                )
                out.append(f"  {x.key:<22} {pounds(x.money):>15} {x.share:7.1%} {x.awards:>6}  {bench}")
        if self.lost_cells:
            out.append(
                f"LOSE ALL PROVISION ({len(self.lost_cells)} of {self.served_today} cells served today): "
                + ", ".join(self.lost_cells)
            )
        else:
            out.append(
                f"no district × client group served today loses all provision ({self.served_today} cells)"
            )
        return "\n".join(out)

    def to_rows(self) -> tuple[list[str], list[list[str | int | float | None]]]:
        header = [
            "dimension",
            "key",
            "money_pence",
            "share",
            "awards",
            "benchmark",
            "benchmark_share",
            "gap",
            "loses_all_provision",
        ]
        rows: list[list[str | int | float | None]] = [
            [
                x.dimension,
                x.key,
                round(x.money, 2),
                x.share,
                x.awards,
                x.benchmark,
                x.benchmark_share,
                x.gap,
                None,
            ]
            for x in self.lines
        ]
        rows += [["cell", k, 0, 0.0, 0, "", None, None, "yes"] for k in self.lost_cells]
        return header, rows


def served_today(problem: Problem) -> list[str]:
    """Cells (district:client group) served by applications that continue a service today."""
    return NoNewGaps().served_today(problem)


def _tag_lines(problem: Problem, tally: Tally) -> list[EqualityLine]:
    """Money by tag (each tag counts the whole award), against the share a rule declares for
    the tag (EqualityGap over tags), or else the tag's share of the money applied for."""
    declared: dict[str, float] = {}
    for rule in problem.rules:
        if isinstance(rule, EqualityGap) and rule.over == "tag":
            declared.update(rule.targets(problem))
    applied = dict.fromkeys(problem.tags, 0)
    for a in problem.applications:
        for t in problem.tags_of(a):
            applied[t] += a.cost
    applied_total = max(sum(a.cost for a in problem.applications), 1)
    money, count = tally.attributed("tag"), tally.serving("tag")
    total = max(tally.total, 1)
    return [
        EqualityLine(
            "tag",
            t,
            money[t],
            money[t] / total,
            count[t],
            "declared target share" if t in declared else "share of money applied for",
            declared.get(t, applied[t] / applied_total),
        )
        for t in problem.tags
    ]


def equality_summary(problem: Problem, allocation: Allocation) -> EqualitySummary:
    """Summarise who gets what, against need and population, and which cells lose provision."""
    chosen, _ = resolve(problem, [(a.application, a.variant) for a in allocation.awards])
    tally = Tally(problem, chosen)
    total = max(tally.total, 1)
    lines: list[EqualityLine] = []
    pop_total = sum(d.population for d in problem.districts)
    need_total = math.fsum(d.need for d in problem.districts)
    money, count = tally.attributed("district"), tally.serving("district")
    # Need is the benchmark when the round states it; population otherwise (all needs equal).
    basis = "need" if len({d.need for d in problem.districts}) > 1 else "population"
    for d in problem.districts:
        bench = d.need / need_total if basis == "need" else d.population / pop_total
        lines.append(
            EqualityLine(
                "district", d.id, money[d.id], money[d.id] / total, count[d.id], f"{basis} share", bench
            )
        )
    money, count = tally.attributed("client_group"), tally.serving("client_group")
    g_need = math.fsum(g.need for g in problem.client_groups)
    for g in problem.client_groups:
        lines.append(
            EqualityLine(
                "client_group",
                g.id,
                money[g.id],
                money[g.id] / total,
                count[g.id],
                "need share",
                g.need / g_need,
            )
        )
    # Equality groups have no need data in the model: the benchmark is their share of the money applied for.
    applied: dict[str, float] = {}
    for a in problem.applications:
        groups = a.equality_groups or (NO_GROUP,)
        for e in groups:
            applied[e] = applied.get(e, 0.0) + a.cost / len(groups)
    got: dict[str, float] = dict.fromkeys(applied, 0.0)
    n: dict[str, int] = dict.fromkeys(applied, 0)
    for c in chosen:
        groups = c.application.equality_groups or (NO_GROUP,)
        for e in groups:
            got[e] += c.cost / len(groups)
            n[e] += 1
    applied_total = math.fsum(applied.values())
    for e in sorted(applied, key=lambda k: (k == NO_GROUP, k)):
        lines.append(
            EqualityLine(
                "equality_group",
                e,
                got[e],
                got[e] / total,
                n[e],
                "share of money applied for",
                applied[e] / applied_total,
            )
        )
    lines.extend(_tag_lines(problem, tally))
    today = served_today(problem)
    serving = tally.serving("cell")
    lost = tuple(k for k in today if serving[k] == 0)
    return EqualitySummary(problem.name, tally.total, tuple(lines), lost, len(today))
