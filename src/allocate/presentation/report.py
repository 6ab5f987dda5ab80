"""A self-contained HTML report of an allocation, for councillors and the public.

One file, inline CSS and inline SVG charts, no scripts and no external resources, readable
at phone width and in print: a status badge that agrees with every row below it, the award
schedule, money by district against need share (table in £ and percentage points, bar
chart), money by client group, every application's outcome and reason, each rule in plain
words, optional explanations and weight frontier (matplotlib), and an appendix of technical
details (solver, bound, fingerprint, rule rows by label). Every string taken from the
problem is escaped with `html.escape`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from html import escape
from typing import TYPE_CHECKING

from allocate.domain.model import Problem
from allocate.domain.money import amount, pounds
from allocate.domain.tally import Dimension, Tally
from allocate.engine.result import Allocation, RuleReport
from allocate.engine.verify import resolve
from allocate.presentation.wording import sentences, words

if TYPE_CHECKING:
    from allocate.analysis.explain import Explanation, Explanations
    from allocate.analysis.frontier import Frontier, FrontierPoint
    from allocate.analysis.moderate import Moderation
    from allocate.presentation.outcome_table import Outcome

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; margin: 1.5rem auto;
  max-width: 1100px; padding: 0 1rem; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; }
p.lead { font-size: 1.05rem; }
.wide { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: 0.88rem; margin: 0.5rem 0; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.25rem 0.45rem; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
td.text { overflow-wrap: anywhere; }
td.id { white-space: nowrap; }
th { background: #f3f4f6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.binding td { background: #fff6d6; }
tr.breach td { background: #fde2e2; color: #8a1010; font-weight: 600; }
tr.below td { background: #fff1e0; }
tr.funded td:first-child { border-left: 4px solid #2f855a; }
.status { display: inline-block; padding: 0.15rem 0.7rem; border-radius: 0.8rem; font-weight: 600; }
.status.ok { background: #d9f2de; color: #145a22; }
.status.warn { background: #fff1d6; color: #7a4b00; }
.status.bad { background: #fde2e2; color: #8a1010; }
dl.summary { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.2rem 1rem; }
dl.summary dt { font-weight: 600; }
dl.summary dd { margin: 0; overflow-wrap: anywhere; }
.muted { color: #555; font-size: 0.85rem; }
.chart { margin: 0.5rem 0 1rem; }
.chart svg { max-width: 100%; height: auto; }
details summary { cursor: pointer; margin: 0.5rem 0; color: #2b6cb0; }
ul.explain li { margin-bottom: 0.4rem; white-space: pre-wrap; }
code { overflow-wrap: anywhere; }
.legend span { display: inline-block; width: 0.9em; height: 0.9em; margin: 0 0.3em 0 1em;
  vertical-align: middle; }
section.appendix { margin-top: 3rem; border-top: 3px double #ccc; }
@media (max-width: 700px) {
  body { margin: 0.8rem auto; padding: 0 0.5rem; }
  table { font-size: 0.8rem; }
  th, td { padding: 0.2rem 0.3rem; }
  .optional { display: none; }
}
@media print {
  body { max-width: none; margin: 0; font-size: 10pt; }
  h2 { break-after: avoid; }
  tr { break-inside: avoid; }
  .wide { overflow: visible; }
  details > summary { display: none; }
  section.appendix { break-before: page; }
}
"""

_MONEY_COLOUR = "#2b6cb0"
_NEED_COLOUR = "#c9a227"
_BELOW = 0.75
"""A district getting less than this fraction of its need share is highlighted (not a rule)."""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float) -> str:
    """A value for display: thousands separators, no float noise."""
    return f"{round(value, 1) + 0.0:,.1f}"


def _table(head: str, body: Sequence[str], foot: str = "") -> str:
    return (
        f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
        f"{f'<tfoot>{foot}</tfoot>' if foot else ''}</table></div>"
    )


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


def _summary(problem: Problem, allocation: Allocation, below: Sequence[str]) -> str:
    kind, verdict = _verdict(allocation, below)
    lines = [f'<p><span class="status {kind}">{_e(verdict)}</span></p>']
    if allocation.awards:
        orgs = {a.organisation for a in allocation.awards}
        w = allocation.weights
        lines.append(
            f'<p class="lead">{len(allocation.awards)} of {len(problem.applications)} applications are '
            f"funded, {len(orgs)} organisations, {_e(pounds(allocation.total))} of the "
            f"{_e(pounds(problem.budget.total))} budget. Bids were valued on their panel outcome score "
            f"({1 - w.social_value_share:.0%}) and social value ({w.social_value_share:.0%}).</p>"
        )
    else:
        lines.append(f'<p class="lead">{_e(allocation.message)}</p>')
    return "".join(lines)


def _awards(problem: Problem, allocation: Allocation) -> str:
    if not allocation.awards:
        return "<p>No awards.</p>"
    titles = {a.id: a.title for a in problem.applications}
    rows = []
    for a in sorted(allocation.awards, key=lambda a: a.application):
        option = "as submitted" if a.variant is None else f"variant {a.variant}"
        rows.append(
            f"<tr><td>{_e(a.application)}</td><td>{_e(a.organisation)}</td>"
            f'<td class="optional">{_e(titles.get(a.application, ""))}</td><td>{_e(option)}</td>'
            f'<td class="num">{_e(pounds(a.amount))}</td><td class="num optional">{_num(a.value)}</td></tr>'
        )
    total = (
        f'<tr><th colspan="2">Total ({len(allocation.awards)} awards)</th><th class="optional"></th><th></th>'
        f'<th class="num">{_e(pounds(allocation.total))}</th>'
        f'<th class="num optional">{_num(allocation.value)}</th></tr>'
    )
    head = (
        '<th>Application</th><th>Organisation</th><th class="optional">Title</th><th>Option</th>'
        '<th class="num">Amount</th><th class="num optional">Value</th>'
    )
    return _table(head, rows, total)


def _outcomes(rows: Sequence[Outcome]) -> str:
    if not rows:
        return "<p>No applications.</p>"
    body = []
    for o in rows:
        where = "; ".join(o.districts) or "county-wide"
        cls = ' class="funded"' if o.funded else ""
        option = "" if o.variant is None else f'<br><span class="muted">{_e(o.option)}</span>'
        body.append(
            f'<tr{cls}><td class="id">{_e(o.application)}{option}</td>'
            f'<td>{"funded" if o.funded else "not funded"}</td><td class="num">{_e(pounds(o.amount_pence))}</td>'
            f'<td class="optional text">{_e(o.organisation)}</td><td class="optional text">{_e(where)}</td>'
            f'<td class="num optional">{o.outcome_score:g}</td><td class="text">{_e(o.text)}</td></tr>'
        )
    head = (
        '<th>Application</th><th>Outcome</th><th class="num">Amount</th><th class="optional">Organisation</th>'
        '<th class="optional">Districts</th><th class="num optional">Score</th><th>Why</th>'
    )
    return (
        _table(head, body)
        + '<p class="muted">Amounts are the award for funded bids and the sum asked for otherwise. '
        "Margins in outcome-score points are exact: a bid would have been funded with more points than "
        "stated (funded bids: would still be funded with fewer).</p>"
    )


def _bar_chart(rows: Sequence[tuple[str, float, float]]) -> str:
    """Horizontal bars: share of money (blue) against share of need (gold) per key."""
    label_w, bar_w, row_h = 170, 360, 34
    width, height = label_w + bar_w + 60, row_h * len(rows) + 20
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


def _districts(problem: Problem, tally: Tally, below: Sequence[str]) -> str:
    total = max(tally.total, 1)
    need = {d.id: d.need for d in problem.districts}
    need_total = sum(need.values())
    money = tally.attributed("district")
    serving = tally.serving("district")
    rows, chart = [], []
    for d, m in money.items():
        share, need_share = m / total, need[d] / need_total
        flag = ' class="below"' if d in below else ""
        rows.append(
            f"<tr{flag}><td>{_e(d)}</td><td class='num'>{_e(pounds(m))}</td>"
            f"<td class='num'>{share:.1%}</td><td class='num'>{need_share:.1%}</td>"
            f"<td class='num'>{(share - need_share) * 100:+.1f} pp</td>"
            f"<td class='num optional'>{serving[d]}</td></tr>"
        )
        chart.append((d, share, need_share))
    head = (
        "<th>District</th><th class='num'>Money</th><th class='num'>Share</th><th class='num'>Need share</th>"
        "<th class='num'>Gap</th><th class='num optional'>Awards serving</th>"
    )
    return (
        '<div class="chart">'
        + _bar_chart(chart)
        + f'<div class="legend muted"><span style="background:{_MONEY_COLOUR}"></span>share of money'
        f'<span style="background:{_NEED_COLOUR}"></span>share of need</div></div>'
        + _table(head, rows)
        + '<p class="muted">Money for awards serving several districts (or the whole county) is '
        "attributed pro rata, as the rules attribute it. The gap is in percentage points (pp). "
        "Highlighted rows get less than three quarters of their need share; whether that breaks a "
        "rule is shown under Rules.</p>"
    )


def _money_by(tally: Tally, over: Dimension, heading: str, awards: str, name: Callable[[str], str]) -> str:
    """Money, share and awards serving, by client group or by tag (a tag counts the whole award)."""
    total = max(tally.total, 1)
    serving = tally.serving(over)
    rows = [
        f"<tr><td>{_e(name(k))}</td><td class='num'>{_e(pounds(m))}</td><td class='num'>{m / total:.1%}</td>"
        f"<td class='num'>{serving[k]}</td></tr>"
        for k, m in tally.attributed(over).items()
    ]
    head = (
        f"<th>{heading}</th><th class='num'>Money</th><th class='num'>Share</th><th class='num'>{awards}</th>"
    )
    return _table(head, rows)


def _state(r: RuleReport) -> str:
    return "NOT MET" if not r.ok else "met, at its limit" if r.binding else "met"


def _rules(problem: Problem, report: Sequence[RuleReport]) -> str:
    """Every rule row in plain words: not met first, then those at their limit, then the rest."""
    if not report:
        return "<p>No rules.</p>"
    said = sentences(problem)
    broken = sum(not r.ok for r in report)
    head = (
        f'<p><span class="status bad">{broken} rule rows NOT met</span></p>'
        if broken
        else f"<p>All {len(report)} rule rows are met; {sum(r.binding for r in report)} are at their limit "
        "(highlighted): they shaped the allocation.</p>"
    )
    rows = []
    for r in sorted(report, key=lambda r: (r.ok, not r.binding)):
        cls = ' class="breach"' if not r.ok else ' class="binding"' if r.binding else ""
        rows.append(
            f'<tr{cls}><td class="text">{_e(said.get(r.label, r.label))}</td>'
            f"<td class='num'>{_e(amount(r.achieved, r.unit))}</td><td>{_state(r)}</td></tr>"
        )
    return head + _table("<th>Rule</th><th class='num'>Achieved</th><th>State</th>", rows)


def _appendix(problem: Problem, allocation: Allocation) -> str:
    s = allocation.solver
    facts = [
        ("Status", f"{_e(allocation.status)}: {_e(allocation.message)}"),
        ("Solver", f"{_e(s.backend)} ({_e(s.version)}), {s.seconds:.2f} s"),
        (
            "Value",
            f"{_num(allocation.value)} (outcome {_num(allocation.value_outcome)}, "
            f"social {_num(allocation.value_social)}), form {_e(allocation.weights.value_form)}",
        ),
    ]
    if allocation.bound is not None:
        gap = "" if allocation.gap is None else f", relative gap {allocation.gap:.2%}"
        facts.append(("Bound", f"{_num(allocation.bound)}{gap}"))
    cert = allocation.certificate
    if cert is not None:
        verdict = "confirmed" if cert.confirmed else "not settled"
        facts.append(("Certificate", f"{verdict} by {_e(cert.backend)} ({_e(cert.status)}): {_e(cert.note)}"))
    facts.append(("Verified", "yes" if allocation.verified else "no"))
    facts.append(("Fingerprint", f"<code>{_e(allocation.fingerprint)}</code>"))
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    units = {"pence": "£", "share": "£ (share)", "awards": "awards", "organisations": "organisations"}
    rows = [
        f"<tr><td><code>{_e(r.label)}</code></td><td class='num'>{_e(amount(r.achieved, r.unit))}</td>"
        f"<td>{_e(r.sense)}</td><td class='num'>{_e(amount(r.limit, r.unit))}</td>"
        f"<td class='num optional'>{_e(amount(r.slack, r.unit))}</td><td class='optional'>{_e(units.get(r.unit, r.unit))}</td>"
        f"<td>{_state(r)}</td></tr>"
        for r in allocation.rules_report
    ]
    head = (
        "<th>Row label</th><th class='num'>Achieved</th><th></th><th class='num'>Limit</th>"
        "<th class='num optional'>Slack</th><th class='optional'>Unit</th><th>State</th>"
    )
    return (
        '<section class="appendix"><h2>Appendix: technical details</h2>'
        f'<dl class="summary">{body}</dl><h3>Rule rows as checked by the verifier</h3>'
        + (_table(head, rows) if rows else "<p>No rule rows.</p>")
        + "</section>"
    )


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
    outcomes: Sequence[Outcome] | None = None,
    moderation: Moderation | None = None,
) -> str:
    """One self-contained HTML document describing the allocation (no scripts, no external resources).

    `moderation` (from `allocate.moderate`) adds a panel-effect section.

    `outcomes` (from `allocate.presentation.outcomes.outcomes`, with margins) gives every application's reason;
    without it the table is made without re-solving (reasons that need margins say so).
    """
    from allocate.analysis.moderate import panel_effect_html
    from allocate.presentation.outcomes import outcomes as outcome_rows

    title = f"Grant allocation: {problem.name}"
    tally = None
    if allocation.awards:
        chosen, _ = resolve(problem, [(a.application, a.variant) for a in allocation.awards])
        tally = Tally(problem, chosen)
    below = _below_need(problem, tally)
    sections = [f"<h1>{_e(title)}</h1>", _summary(problem, allocation, below)]
    if allocation.status == "infeasible" and allocation.conflict:
        said = sentences(problem)
        sections.append(
            "<h2>Clashing rules</h2><ul>"
            + "".join(f"<li>{_e(said.get(c, c))}</li>" for c in allocation.conflict)
            + "</ul>"
        )
    sections += ["<h2>Award schedule</h2>", _awards(problem, allocation)]
    if tally is not None:
        sections += [
            "<h2>Money by district against need</h2>",
            _districts(problem, tally, below),
            "<h2>Money by client group</h2>",
            _money_by(tally, "client_group", "Client group", "Awards serving", words),
        ]
        if problem.tags:
            sections += ["<h2>Money by tag</h2>", _money_by(tally, "tag", "Tag", "Awards", str)]
    if allocation.awards:
        rows = outcomes if outcomes is not None else outcome_rows(problem, allocation, margins=False)
        sections += ["<h2>Every application: outcome and reason</h2>", _outcomes(rows)]
    sections += ["<h2>Rules</h2>", _rules(problem, allocation.rules_report)]
    if explanations is not None:
        sections += ["<h2>Explanations</h2>", _explanations(explanations)]
    if frontier is not None and frontier.points:
        sections += ["<h2>Weight frontier</h2>", _frontier(frontier, allocation)]
    if moderation is not None:
        sections += ["<h2>Panel effect</h2>", panel_effect_html(moderation)]
    sections.append(_appendix(problem, allocation))
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n"
        '<p class="muted">Generated by allocate.</p>\n</body>\n</html>\n'
    )
