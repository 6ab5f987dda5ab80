"""A self-contained HTML report of an allocation, for councillors and the public.

One file, inline CSS and inline SVG charts, no scripts and no external resources:
status and value, the award schedule, money by district against need share (table and
bar chart), money by client group, the rules report (binding rules highlighted, breaches
flagged), optional explanations and an optional weight-frontier chart (matplotlib).
Every string taken from the problem is escaped with `html.escape`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from allocate.model import Problem
from allocate.result import Allocation, RuleReport
from allocate.summary import pounds
from allocate.tally import Tally
from allocate.verify import resolve

if TYPE_CHECKING:
    from allocate.analysis.explain import Explanation, Explanations
    from allocate.analysis.frontier import Frontier, FrontierPoint

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; margin: 2rem auto;
  max-width: 1100px; padding: 0 1rem; color: #1b1b1b; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.88rem; margin: 0.5rem 0; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f3f4f6; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.binding td { background: #fff6d6; }
tr.breach td { background: #fde2e2; color: #8a1010; font-weight: 600; }
.status { display: inline-block; padding: 0.1rem 0.6rem; border-radius: 0.8rem; font-weight: 600; }
.status.ok { background: #d9f2de; color: #145a22; }
.status.bad { background: #fde2e2; color: #8a1010; }
dl.summary { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
dl.summary dt { font-weight: 600; }
dl.summary dd { margin: 0; }
.muted { color: #666; font-size: 0.85rem; }
.chart { margin: 0.5rem 0 1rem; }
.chart svg { max-width: 100%; height: auto; }
details summary { cursor: pointer; margin: 0.5rem 0; color: #2b6cb0; }
ul.explain li { margin-bottom: 0.4rem; white-space: pre-wrap; }
.legend span { display: inline-block; width: 0.9em; height: 0.9em; margin: 0 0.3em 0 1em;
  vertical-align: middle; }
"""

_MONEY_COLOUR = "#2b6cb0"
_NEED_COLOUR = "#c9a227"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _amount(value: float, unit: str) -> str:
    if unit == "pence":
        return pounds(value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _summary(problem: Problem, allocation: Allocation) -> str:
    good = allocation.status in ("optimal", "feasible")
    w = allocation.weights
    rows = [
        (
            "Status",
            f'<span class="status {"ok" if good else "bad"}">{_e(allocation.status)}</span> '
            f"{_e(allocation.message)}",
        ),
        (
            "Solver",
            f"{_e(allocation.solver.backend)} ({_e(allocation.solver.version)}), "
            f"{allocation.solver.seconds:.2f} s",
        ),
    ]
    if allocation.awards:
        orgs = {a.organisation for a in allocation.awards}
        rows += [
            (
                "Awards",
                f"{len(allocation.awards)} of {len(problem.applications)} applications, "
                f"{len(orgs)} organisations",
            ),
            ("Money", f"{_e(pounds(allocation.total))} of {_e(pounds(problem.budget.total))} budget"),
            (
                "Value",
                f"{allocation.value:,.1f} (outcome {allocation.value_outcome:,.1f}, "
                f"social {allocation.value_social:,.1f})",
            ),
            ("Weights", f"social value share {w.social_value_share:.0%}, form {_e(w.value_form)}"),
        ]
    if allocation.gap is not None and allocation.bound is not None:
        rows.append(("Bound", f"{allocation.bound:,.1f}, gap {allocation.gap:.2e}"))
    rows.append(
        ("Verified", f"{_e(allocation.verified)}; fingerprint <code>{_e(allocation.fingerprint)}</code>")
    )
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<dl class="summary">{body}</dl>'


def _awards(problem: Problem, allocation: Allocation) -> str:
    if not allocation.awards:
        return "<p>No awards.</p>"
    titles = {a.id: a.title for a in problem.applications}
    rows = []
    for a in sorted(allocation.awards, key=lambda a: a.application):
        option = "as submitted" if a.variant is None else f"variant {a.variant}"
        rows.append(
            f"<tr><td>{_e(a.application)}</td><td>{_e(a.organisation)}</td>"
            f"<td>{_e(titles.get(a.application, ''))}</td><td>{_e(option)}</td>"
            f'<td class="num">{_e(pounds(a.amount))}</td><td class="num">{a.value:,.1f}</td></tr>'
        )
    total = (
        f'<tr><th colspan="4">Total ({len(allocation.awards)} awards)</th>'
        f'<th class="num">{_e(pounds(allocation.total))}</th>'
        f'<th class="num">{allocation.value:,.1f}</th></tr>'
    )
    return (
        "<table><thead><tr><th>Application</th><th>Organisation</th><th>Title</th><th>Option</th>"
        '<th class="num">Amount</th><th class="num">Value</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody><tfoot>{total}</tfoot></table>"
    )


def _bar_chart(rows: Sequence[tuple[str, float, float]]) -> str:
    """Horizontal bars: share of money (blue) against share of need (gold) per key."""
    label_w, bar_w, row_h = 190, 560, 34
    width, height = label_w + bar_w + 70, row_h * len(rows) + 20
    top = max([1e-9, *(max(s, n) for _, s, n in rows)])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="money share against need share" '
        'font-family="sans-serif" font-size="12">'
    ]
    for i, (key, share, need) in enumerate(rows):
        y = 10 + i * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">{_e(key)}</text>'
        )
        for j, (value, colour) in enumerate(((share, _MONEY_COLOUR), (need, _NEED_COLOUR))):
            w = bar_w * value / top
            by = y + 3 + j * 14
            parts.append(
                f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="12" fill="{colour}">'
                f"<title>{_e(key)}: {value:.1%}</title></rect>"
                f'<text x="{label_w + w + 4:.1f}" y="{by + 10}" font-size="10">{value:.1%}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _districts(problem: Problem, tally: Tally) -> str:
    total = max(tally.total, 1)
    need = {d.id: d.need for d in problem.districts}
    need_total = sum(need.values())
    money = tally.attributed("district")
    serving = tally.serving("district")
    rows, chart = [], []
    for d, m in money.items():
        share, need_share = m / total, need[d] / need_total
        gap_class = ' class="breach"' if share + 1e-12 < need_share * 0.75 else ""
        rows.append(
            f"<tr{gap_class}><td>{_e(d)}</td><td class='num'>{_e(pounds(m))}</td>"
            f"<td class='num'>{share:.1%}</td><td class='num'>{need_share:.1%}</td>"
            f"<td class='num'>{share - need_share:+.1%}</td><td class='num'>{serving[d]}</td></tr>"
        )
        chart.append((d, share, need_share))
    return (
        '<div class="chart">'
        + _bar_chart(chart)
        + f'<div class="legend muted"><span style="background:{_MONEY_COLOUR}"></span>share of money'
        f'<span style="background:{_NEED_COLOUR}"></span>share of need</div></div>'
        "<table><thead><tr><th>District</th><th class='num'>Money (attributed)</th>"
        "<th class='num'>Share</th><th class='num'>Need share</th><th class='num'>Gap</th>"
        "<th class='num'>Awards serving</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        '<p class="muted">Money for awards serving several districts (or the whole county) is '
        "attributed pro rata, as the rules attribute it. Rows in red get less than three "
        "quarters of their need share.</p>"
    )


def _client_groups(tally: Tally) -> str:
    total = max(tally.total, 1)
    serving = tally.serving("client_group")
    rows = [
        f"<tr><td>{_e(g)}</td><td class='num'>{_e(pounds(m))}</td><td class='num'>{m / total:.1%}</td>"
        f"<td class='num'>{serving[g]}</td></tr>"
        for g, m in tally.attributed("client_group").items()
    ]
    return (
        "<table><thead><tr><th>Client group</th><th class='num'>Money (attributed)</th>"
        "<th class='num'>Share</th><th class='num'>Awards serving</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _tags(tally: Tally) -> str:
    """Money by tag of the application or its organisation (each tag counts the whole award)."""
    total = max(tally.total, 1)
    serving = tally.serving("tag")
    rows = [
        f"<tr><td>{_e(t)}</td><td class='num'>{_e(pounds(m))}</td><td class='num'>{m / total:.1%}</td>"
        f"<td class='num'>{serving[t]}</td></tr>"
        for t, m in tally.attributed("tag").items()
    ]
    return (
        "<table><thead><tr><th>Tag</th><th class='num'>Money</th>"
        "<th class='num'>Share</th><th class='num'>Awards</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _rules(report: Sequence[RuleReport]) -> str:
    if not report:
        return "<p>No rules.</p>"
    breaches = [r for r in report if not r.ok]
    head = (
        f'<p><span class="status bad">{len(breaches)} rule rows NOT met</span></p>'
        if breaches
        else f'<p><span class="status ok">all {len(report)} rule rows met</span> '
        f"({sum(r.binding for r in report)} binding, highlighted)</p>"
    )

    def table(rows: Sequence[RuleReport]) -> str:
        out = []
        for r in rows:
            cls = ' class="breach"' if not r.ok else ' class="binding"' if r.binding else ""
            state = "NOT MET" if not r.ok else "binding" if r.binding else "met"
            out.append(
                f"<tr{cls}><td>{_e(r.label)}</td><td class='num'>{_e(_amount(r.achieved, r.unit))}</td>"
                f"<td>{_e(r.sense)}</td><td class='num'>{_e(_amount(r.limit, r.unit))}</td>"
                f"<td class='num'>{_e(_amount(r.slack, r.unit))}</td><td>{_e(r.unit)}</td><td>{state}</td></tr>"
            )
        return (
            "<table><thead><tr><th>Rule</th><th class='num'>Achieved</th><th></th>"
            "<th class='num'>Limit</th><th class='num'>Slack</th><th>Unit</th><th>State</th></tr></thead>"
            f"<tbody>{''.join(out)}</tbody></table>"
        )

    key = [r for r in report if not r.ok or r.binding]
    rest = [r for r in report if r.ok and not r.binding]
    html = head + (table(sorted(key, key=lambda r: r.ok)) if key else "")
    if rest:
        html += f"<details><summary>the other {len(rest)} rule rows (met, not binding)</summary>{table(rest)}</details>"
    return html


def _explanations(explanations: Explanations | Sequence[Explanation]) -> str:
    from allocate.analysis.explain import Explanations

    items = explanations.items if isinstance(explanations, Explanations) else tuple(explanations)
    if not items:
        return "<p>No explanations.</p>"
    return '<ul class="explain">' + "".join(f"<li>{_e(x.text)}</li>" for x in items) + "</ul>"


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


def _frontier(frontier: Frontier, allocation: Allocation) -> str:
    rows = []
    for i, p in enumerate(_frontier_order(frontier), start=1):
        interval = (
            "not selected by any weighting"
            if p.share_low is None or p.share_high is None
            else f"{p.share_low:.3f} – {p.share_high:.3f}"
        )
        here = " ★" if p.allocation.funded == allocation.funded else ""
        rows.append(
            f"<tr><td class='num'>{i}</td><td>{_e(interval)}{here}</td><td class='num'>{p.outcome:,.1f}</td>"
            f"<td class='num'>{p.social:,.1f}</td><td class='num'>{len(p.allocation.awards)}</td>"
            f"<td class='num'>{_e(pounds(p.allocation.total))}</td></tr>"
        )
    return (
        f'<div class="chart">{frontier_svg(frontier, allocation)}</div>'
        "<table><thead><tr><th class='num'>#</th><th>Social value share w</th><th class='num'>Outcome O</th>"
        "<th class='num'>Social S</th><th class='num'>Awards</th><th class='num'>Money</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<p class="muted">{frontier.solves} solves. ★ marks this report\'s allocation.</p>'
    )


def html_report(
    problem: Problem,
    allocation: Allocation,
    *,
    frontier: Frontier | None = None,
    explanations: Explanations | Sequence[Explanation] | None = None,
) -> str:
    """One self-contained HTML document describing the allocation (no scripts, no external resources)."""
    title = f"Grant allocation: {problem.name}"
    sections = [f"<h1>{_e(title)}</h1>", _summary(problem, allocation)]
    if allocation.status == "infeasible" and allocation.conflict:
        sections.append(
            "<h2>Clashing rules</h2><ul>"
            + "".join(f"<li>{_e(c)}</li>" for c in allocation.conflict)
            + "</ul>"
        )
    sections += ["<h2>Award schedule</h2>", _awards(problem, allocation)]
    if allocation.awards:
        chosen, _ = resolve(problem, [(a.application, a.variant) for a in allocation.awards])
        tally = Tally(problem, chosen)
        sections += [
            "<h2>Money by district against need</h2>",
            _districts(problem, tally),
            "<h2>Money by client group</h2>",
            _client_groups(tally),
        ]
        if problem.tags:
            sections += ["<h2>Money by tag</h2>", _tags(tally)]
    sections += ["<h2>Rules</h2>", _rules(allocation.rules_report)]
    if explanations is not None:
        sections += ["<h2>Explanations</h2>", _explanations(explanations)]
    if frontier is not None and frontier.points:
        sections += ["<h2>Weight frontier</h2>", _frontier(frontier, allocation)]
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n"
        '<p class="muted">Generated by allocate.</p>\n</body>\n</html>\n'
    )
