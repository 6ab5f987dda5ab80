"""A self-contained HTML report of an allocation, for councillors and the public.

One file, inline CSS and inline SVG charts, no scripts and no external resources, readable
at phone width and in print: a status badge that agrees with every row below it, the award
schedule, money by district against need share (table in £ and percentage points, bar
chart), money by client group, every application's outcome and reason, each rule in plain
words, optional explanations and weight frontier (matplotlib), and an appendix of technical
details (solver, bound, fingerprint, rule rows by label). This module computes the numbers
and words; `templates/report.html.j2` lays them out, and Jinja2's autoescape escapes every
string taken from the problem.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from allocate.domain.model import Problem
from allocate.domain.money import amount, pounds
from allocate.domain.tally import Dimension, Tally
from allocate.engine.result import Allocation, RuleReport
from allocate.engine.verify import resolve
from allocate.presentation.wording import sentences, words

if TYPE_CHECKING:
    import jinja2

    from allocate.analysis.explain import Explanation, Explanations
    from allocate.analysis.frontier import Frontier, FrontierPoint
    from allocate.analysis.moderate import Moderation
    from allocate.presentation.outcome_table import Outcome

_MONEY_COLOUR = "#2b6cb0"
_NEED_COLOUR = "#c9a227"
_BELOW = 0.75
"""A district getting less than this fraction of its need share is highlighted (not a rule)."""


@functools.cache
def _templates() -> jinja2.Environment:
    """The templates next to this module (they follow it if it moves), loaded once per process."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader(__name__.rpartition(".")[0], "templates"),
        autoescape=True,  # every template is HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _num(value: float) -> str:
    """A value for display: thousands separators, no float noise."""
    return f"{round(value, 1) + 0.0:,.1f}"


def _below_need(problem: Problem, tally: Tally | None) -> list[str]:
    """Districts getting less than three quarters of their need share (information, not a rule)."""
    if tally is None or not tally.total:
        return []
    need = {d.id: d.need for d in problem.districts}
    need_total = sum(need.values())
    money = tally.attributed("district")
    return [d for d, m in money.items() if m / tally.total + 1e-12 < need[d] / need_total * _BELOW]


def _verdict(allocation: Allocation, below: Sequence[str]) -> tuple[str, str]:
    """The status badge: its class and words, agreeing with every rule row and district row."""
    broken = [r for r in allocation.rules_report if not r.ok]
    if allocation.status == "infeasible":
        return "bad", "No allocation meets every rule"
    if not allocation.awards and allocation.status != "optimal":
        return "bad", "No allocation found"
    if broken or not allocation.verified:
        return "bad", f"{len(broken)} rule rows NOT met"
    best = "Proven best allocation" if allocation.status == "optimal" else "Good allocation, not proven best"
    if below:
        return "warn", f"{best}; every rule met, but {len(below)} districts get under 3/4 of their need share"
    if allocation.status != "optimal":
        return "warn", f"{best}; every rule met"
    return "ok", f"{best}; every rule met"


def _summary(problem: Problem, allocation: Allocation, below: Sequence[str]) -> dict[str, object]:
    kind, verdict = _verdict(allocation, below)
    if not allocation.awards:
        return {"kind": kind, "verdict": verdict, "funded": None, "message": allocation.message}
    share = allocation.weights.social_value_share
    return {
        "kind": kind,
        "verdict": verdict,
        "funded": len(allocation.awards),
        "applications": len(problem.applications),
        "organisations": len({a.organisation for a in allocation.awards}),
        "total": pounds(allocation.total),
        "budget": pounds(problem.budget.total),
        "outcome_share": f"{1 - share:.0%}",
        "social_share": f"{share:.0%}",
    }


def _awards(problem: Problem, allocation: Allocation) -> dict[str, object]:
    titles = {a.id: a.title for a in problem.applications}
    rows = [
        (
            a.application,
            a.organisation,
            titles.get(a.application, ""),
            "as submitted" if a.variant is None else f"variant {a.variant}",
            pounds(a.amount),
            _num(a.value),
        )
        for a in sorted(allocation.awards, key=lambda a: a.application)
    ]
    return {
        "rows": rows,
        "count": len(rows),
        "total": pounds(allocation.total),
        "value": _num(allocation.value),
    }


def _outcomes(rows: Sequence[Outcome]) -> list[tuple[object, ...]]:
    return [
        (
            o.funded,
            o.application,
            None if o.variant is None else o.option,
            pounds(o.amount_pence),
            o.organisation,
            "; ".join(o.districts) or "county-wide",
            f"{o.outcome_score:g}",
            o.text,
        )
        for o in rows
    ]


def _bar_chart(rows: Sequence[tuple[str, float, float]]) -> dict[str, object]:
    """Horizontal bars: share of money (blue) against share of need (gold) per key."""
    label_w, bar_w, row_h = 170, 360, 34
    top = max([1e-9, *(max(s, n) for _, s, n in rows)])
    chart = []
    for i, (key, share, need) in enumerate(rows):
        y = 10 + i * row_h
        bars = []
        for j, (value, colour) in enumerate(((share, _MONEY_COLOUR), (need, _NEED_COLOUR))):
            w = bar_w * value / top
            by = y + 3 + j * 14
            bars.append((by, f"{w:.1f}", colour, f"{value:.1%}", f"{label_w + w + 4:.1f}", by + 10))
        chart.append((key, f"{y + row_h / 2 + 4:.1f}", bars))
    return {
        "width": label_w + bar_w + 60,
        "height": row_h * len(rows) + 20,
        "label_x": label_w - 8,
        "bar_x": label_w,
        "rows": chart,
    }


def _districts(problem: Problem, tally: Tally, below: Sequence[str]) -> dict[str, object]:
    total = max(tally.total, 1)
    need = {d.id: d.need for d in problem.districts}
    need_total = sum(need.values())
    serving = tally.serving("district")
    shares = {d: (m, m / total, need[d] / need_total) for d, m in tally.attributed("district").items()}
    rows = [
        (d, pounds(m), f"{s:.1%}", f"{n:.1%}", f"{(s - n) * 100:+.1f} pp", serving[d], d in below)
        for d, (m, s, n) in shares.items()
    ]
    return {"chart": _bar_chart([(d, s, n) for d, (_, s, n) in shares.items()]), "rows": rows}


def _money_by(tally: Tally, over: Dimension, name: Callable[[str], str]) -> list[tuple[object, ...]]:
    """Money, share and awards serving, by client group or by tag (a tag counts the whole award)."""
    total = max(tally.total, 1)
    serving = tally.serving(over)
    return [(name(k), pounds(m), f"{m / total:.1%}", serving[k]) for k, m in tally.attributed(over).items()]


def _state(r: RuleReport) -> str:
    return "NOT MET" if not r.ok else "met, at its limit" if r.binding else "met"


def _rules(problem: Problem, report: Sequence[RuleReport]) -> dict[str, object]:
    """Every rule row in plain words: not met first, then those at their limit, then the rest."""
    said = sentences(problem) if report else {}
    rows = [
        (
            "breach" if not r.ok else "binding" if r.binding else "",
            said.get(r.label, r.label),
            amount(r.achieved, r.unit),
            _state(r),
        )
        for r in sorted(report, key=lambda r: (r.ok, not r.binding))
    ]
    return {"rows": rows, "broken": sum(not r.ok for r in report), "binding": sum(r.binding for r in report)}


def _appendix(allocation: Allocation) -> dict[str, object]:
    s = allocation.solver
    facts = [
        ("Status", f"{allocation.status}: {allocation.message}"),
        ("Solver", f"{s.backend} ({s.version}), {s.seconds:.2f} s"),
        (
            "Value",
            f"{_num(allocation.value)} (outcome {_num(allocation.value_outcome)}, "
            f"social {_num(allocation.value_social)}), form {allocation.weights.value_form}",
        ),
    ]
    if allocation.bound is not None:
        gap = "" if allocation.gap is None else f", relative gap {allocation.gap:.2%}"
        facts.append(("Bound", f"{_num(allocation.bound)}{gap}"))
    cert = allocation.certificate
    if cert is not None:
        verdict = "confirmed" if cert.confirmed else "not settled"
        facts.append(("Certificate", f"{verdict} by {cert.backend} ({cert.status}): {cert.note}"))
    facts.append(("Verified", "yes" if allocation.verified else "no"))
    units = {"pence": "£", "share": "£ (share)", "awards": "awards", "organisations": "organisations"}
    rows = [
        (
            r.label,
            amount(r.achieved, r.unit),
            r.sense,
            amount(r.limit, r.unit),
            amount(r.slack, r.unit),
            units.get(r.unit, r.unit),
            _state(r),
        )
        for r in allocation.rules_report
    ]
    return {"facts": facts, "fingerprint": allocation.fingerprint, "rows": rows}


def _explanations(explanations: Explanations | Sequence[Explanation]) -> list[str]:
    from allocate.analysis.explain import Explanations

    items = explanations.items if isinstance(explanations, Explanations) else tuple(explanations)
    return [x.text for x in items]


def _frontier_order(frontier: Frontier) -> list[FrontierPoint]:
    """Points by the social value share where they are optimal (unsupported points last)."""
    return sorted(frontier.points, key=lambda p: (p.share_low if p.share_low is not None else 2.0, p.outcome))


def frontier_svg(frontier: Frontier, allocation: Allocation | None = None) -> str:
    """The weight frontier as an inline SVG string: outcome vs social value, each point
    labelled with the social value shares where it is optimal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    points = _frontier_order(frontier)
    chosen = None if allocation is None else allocation.funded
    thousands = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}")
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "allocate", "font.size": 9}):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 5), gridspec_kw={"width_ratios": [3, 2]})
        try:
            ax.plot([p.outcome for p in points], [p.social for p in points], "-", color="#9bb7d4", zorder=1)
            span_x = max(1e-9, max(p.outcome for p in points) - min(p.outcome for p in points))
            span_y = max(1e-9, max(p.social for p in points) - min(p.social for p in points))
            labelled: list[tuple[float, float]] = []
            for i, p in enumerate(points, start=1):
                low, high = p.share_low, p.share_high
                interval = (low, high) if low is not None and high is not None else None
                here = chosen is not None and p.allocation.funded == chosen
                colour = "#c53030" if here else (_MONEY_COLOUR if interval is not None else "#999999")
                ax.scatter(
                    [p.outcome],
                    [p.social],
                    s=90 if here else 30,
                    marker="*" if here else "o",
                    color=colour,
                    zorder=3,
                )
                xy = (p.outcome / span_x, p.social / span_y)
                if here or all(abs(xy[0] - a) + abs(xy[1] - b) > 0.06 for a, b in labelled):
                    labelled.append(xy)
                    ax.annotate(
                        str(i),
                        (p.outcome, p.social),
                        textcoords="offset points",
                        xytext=(5, 3),
                        fontsize=8,
                        color=colour,
                    )
                if interval is not None:
                    bx.barh(i, interval[1] - interval[0], left=interval[0], height=0.7, color=colour)
            ax.set_xlabel("outcome value O (at full weight)")
            ax.set_ylabel("social value S (at full weight)")
            ax.set_title(f"{len(points)} distinct optimal allocations (★ this one)")
            ax.xaxis.set_major_formatter(thousands)
            ax.yaxis.set_major_formatter(thousands)
            ax.tick_params(axis="x", labelrotation=20)
            ax.grid(True, color="#e5e5e5")
            ax.margins(x=0.08, y=0.08)
            bx.set_xlim(0, 1)
            bx.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            bx.set_ylim(len(points) + 0.7, 0.3)
            bx.set_xlabel("social value share w where optimal")
            bx.set_ylabel("allocation (number as in the table)")
            bx.set_title("Optimal weight intervals")
            bx.grid(True, axis="x", color="#e5e5e5")
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    return re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)


def _frontier(frontier: Frontier, allocation: Allocation) -> dict[str, object]:
    from markupsafe import Markup

    rows = [
        (
            i,
            "not selected by any weighting"
            if p.share_low is None or p.share_high is None
            else f"{p.share_low:.3f} – {p.share_high:.3f}",
            p.allocation.funded == allocation.funded,
            f"{p.outcome:,.1f}",
            f"{p.social:,.1f}",
            len(p.allocation.awards),
            pounds(p.allocation.total),
        )
        for i, p in enumerate(_frontier_order(frontier), start=1)
    ]
    # matplotlib's SVG: numbers and this module's labels only, no text from the problem.
    return {"svg": Markup(frontier_svg(frontier, allocation)), "rows": rows, "solves": frontier.solves}


def html_report(
    problem: Problem,
    allocation: Allocation,
    *,
    frontier: Frontier | None = None,
    explanations: Explanations | Sequence[Explanation] | None = None,
    outcomes: Sequence[Outcome] | None = None,
    moderation: Moderation | None = None,
) -> str:
    """One self-contained HTML document describing the allocation (no scripts, no external resources).

    `moderation` (from `allocate.moderate`) adds a panel-effect section.

    `outcomes` (from `allocate.presentation.outcomes.outcomes`, with margins) gives every application's reason;
    without it the table is made without re-solving (reasons that need margins say so).
    """
    from markupsafe import Markup

    from allocate.analysis.moderate import panel_effect_html
    from allocate.presentation.outcomes import outcomes as outcome_rows

    tally = None
    if allocation.awards:
        chosen, _ = resolve(problem, [(a.application, a.variant) for a in allocation.awards])
        tally = Tally(problem, chosen)
    below = _below_need(problem, tally)
    conflict = allocation.conflict if allocation.status == "infeasible" else ()
    said = sentences(problem) if conflict else {}
    applications = None
    if allocation.awards:
        applications = outcomes if outcomes is not None else outcome_rows(problem, allocation, margins=False)
    context: dict[str, Any] = {
        "title": f"Grant allocation: {problem.name}",
        "status": _summary(problem, allocation, below),
        "conflict": [said.get(c, c) for c in conflict],
        "awards": _awards(problem, allocation),
        "by_district": None if tally is None else _districts(problem, tally, below),
        "by_group": None if tally is None else _money_by(tally, "client_group", words),
        "by_tag": None if tally is None or not problem.tags else _money_by(tally, "tag", str),
        "applications": None if applications is None else _outcomes(applications),
        "rule_rows": _rules(problem, allocation.rules_report),
        "explained": None if explanations is None else _explanations(explanations),
        "weight_frontier": _frontier(frontier, allocation)
        if frontier is not None and frontier.points
        else None,
        # panel_effect_html escapes the panel names it shows (html.escape).
        "panel_effect": None if moderation is None else Markup(panel_effect_html(moderation)),
        "technical": _appendix(allocation),
        "money_colour": _MONEY_COLOUR,
        "need_colour": _NEED_COLOUR,
    }
    return _templates().get_template("report.html.j2").render(context)
