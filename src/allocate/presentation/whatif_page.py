"""The what-if page: one self-contained HTML file with a slider over the social value share.

For every share on the slider's grid (0.1% steps by default) the page shows the optimal
allocation, its value split into outcome and social parts, money by district against need
and by client group, the awards that enter and leave at the next breakpoints either way, and
the trade-off chart with the current allocation marked. Everything shown is computed here,
in Python, from the exact frontier and `solve` (see `allocate.analysis.share_map`), and
embedded as JSON; the page's script only looks values up and puts text into the document.
Inline CSS, JS and SVG, no external resources: it works offline and from an email attachment.
Text from the problem reaches the document only through `textContent` or `html.escape`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from html import escape
from typing import Any

from allocate.analysis.frontier import Frontier
from allocate.analysis.share_map import Change, ShareMap, State, award_key, share_map
from allocate.domain.candidates import Candidate
from allocate.domain.model import Problem
from allocate.domain.tally import Tally
from allocate.engine.backends import DEFAULT_BACKEND
from allocate.engine.finish import library_version
from allocate.engine.options import SolverOptions
from allocate.presentation.summary import pounds


def whatif_page(
    problem: Problem,
    frontier: Frontier | None = None,
    backend: str = DEFAULT_BACKEND,
    *,
    options: SolverOptions | None = None,
    steps: int = 1000,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """The what-if page of a round as one HTML document.

    `frontier` is ``frontier(problem, backend)`` if already computed (else it is computed
    here); the slider has ``steps + 1`` positions, shares 0, 1/steps, ..., 1. Solves go
    through `executor` (default: a pool of threads on large rounds, else one task after another);
    ``progress(done, total)`` is called as they finish.
    """
    m = share_map(
        problem, frontier, backend, options=options, steps=steps, executor=executor, progress=progress
    )
    return _document(problem, m)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _percent(share: float, digits: int) -> str:
    return f"{share * 100:.{digits}f}%"


def _grid_digits(steps: int) -> int:
    """Decimals that tell every grid share apart (one for 0.1% steps)."""
    return max(0, math.ceil(math.log10(steps)) - 2)


def _name(m: ShareMap, i: int) -> str:
    """Frontier allocations are #1.. in share order; solve's picks at ties follow them."""
    return f"#{i + 1}"


def _span(m: ShareMap, i: int) -> str:
    state = m.states[i]
    if state.point is not None:
        p = m.frontier.points[state.point]
        assert p.share_low is not None and p.share_high is not None
        return f"optimal from {_percent(p.share_low, 2)} to {_percent(p.share_high, 2)}"
    where = [_percent(m.share(k), _grid_digits(m.steps)) for k in m.solved if m.state_at[k] == i]
    return f"tied with its neighbours at {', '.join(where)}; the allocation solve returns there"


def _option(c: Candidate) -> str:
    return "as submitted" if c.variant is None else f"variant {c.variant.id}"


def _serves(c: Candidate) -> str:
    where = ", ".join(c.districts) if c.districts else "county-wide"
    return f"{where} · {', '.join(c.client_groups)}"


def _tables(problem: Problem, state: State) -> tuple[list[list[str]], list[list[str]]]:
    """Rows of money by district against need, and by client group, for one state."""
    tally = Tally(problem, state.chosen)
    total = max(tally.total, 1)

    def rows(over: str, need: dict[str, float]) -> list[list[str]]:
        money = tally.attributed("district" if over == "district" else "client_group")
        serving = tally.serving("district" if over == "district" else "client_group")
        need_total = math.fsum(need.values())
        shares = {k: (v / total, need[k] / need_total) for k, v in money.items()}
        top = max([1e-12, *(max(s) for s in shares.values())])
        return [
            [
                k,
                pounds(money[k]),
                _percent(s, 1),
                _percent(n, 1),
                f"{(s - n) * 100:+.1f} pp",
                str(serving[k]),
                _percent(s / top, 2),
                _percent(n / top, 2),
            ]
            for k, (s, n) in shares.items()
        ]

    return (
        rows("district", {d.id: d.need for d in problem.districts}),
        rows("client_group", {g.id: g.need for g in problem.client_groups}),
    )


def _payload(problem: Problem, m: ShareMap) -> dict[str, Any]:
    digits = _grid_digits(m.steps)
    cands: dict[tuple[str, str | None], int] = {}
    rows: list[list[str]] = []

    def index(c: Candidate) -> int:
        key = (c.application.id, c.variant_id)
        if key not in cands:
            cands[key] = len(rows)
            title = c.application.title
            rows.append(
                [
                    c.application.id,
                    title,
                    c.organisation,
                    _option(c),
                    _serves(c),
                    pounds(c.cost),
                    c.variant_id or "",
                ]
            )
        return cands[key]

    states = []
    for i, s in enumerate(m.states):
        order = sorted(s.chosen, key=lambda c: (c.application.id, c.variant_id or ""))
        districts, groups = _tables(problem, s)
        orgs = {c.organisation for c in s.chosen}
        total = sum(c.cost for c in s.chosen)
        states.append(
            {
                "name": _name(m, i),
                "span": _span(m, i),
                "awards": [index(c) for c in order],
                "count": f"{len(s.chosen)} awards to {len(orgs)} organisations",
                "money": f"{pounds(total)} of {pounds(problem.budget.total)}",
                "districts": districts,
                "groups": groups,
                "up": _change(m, i, m.up[i], index, "above"),
                "down": _change(m, i, m.down[i], index, "below"),
            }
        )
    positions = []
    for k in range(m.steps + 1):
        i = m.state_at[k]
        outcome, social = m.states[i].value_at(m.share(k), problem)
        label = _percent(m.share(k), digits)
        positions.append(
            [
                i,
                label,
                f"{label} social value: allocation {states[i]['name']}, {states[i]['count']}",
                f"{outcome + social:,.1f}",
                f"{outcome:,.1f}",
                f"{social:,.1f}",
            ]
        )
    return {"steps": m.steps, "pos": positions, "states": states, "cands": rows}


def _change(
    m: ShareMap, i: int, change: Change | None, index: Callable[[Candidate], int], side: str
) -> dict[str, Any]:
    if change is None:
        end = "up to 100%" if side == "above" else "down to 0%"
        return {
            "text": f"Allocation {_name(m, i)} stays optimal all the way {end}.",
            "enter": [],
            "leave": [],
        }
    here, there = m.states[i], m.states[change.to]
    mine, theirs = award_key(here.allocation), award_key(there.allocation)
    by_key = {(c.application.id, c.variant_id): c for c in (*here.chosen, *there.chosen)}

    def listed(keys: set[tuple[str, str | None]]) -> list[int]:
        return [index(by_key[k]) for k in sorted(keys, key=lambda k: (k[0], k[1] or ""))]

    where = _percent(change.share, 2)
    lead = f"{'Above' if side == 'above' else 'Below'} {where}"
    return {
        "text": f"{lead}, allocation {_name(m, change.to)} is optimal.",
        "enter": listed(set(theirs - mine)),
        "leave": listed(set(mine - theirs)),
    }


def _json(data: dict[str, Any]) -> str:
    """JSON safe inside a <script> element (no '<', '>' or '&' left to end it)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    step *= next(f for f in (1, 2, 2.5, 5, 10) if f * step >= raw)
    first = math.ceil(lo / step) * step
    return [first + j * step for j in range(int((hi - first) / step) + 1)]


def _tradeoff_svg(m: ShareMap) -> str:
    """Outcome value against social value of every state; the script marks the current one."""
    w, h, left, right, top, bottom = 560, 340, 78, 20, 16, 48
    xs = [s.outcome for s in m.states]
    ys = [s.social for s in m.states]

    def span(v: Sequence[float]) -> tuple[float, float]:
        lo, hi = min(v), max(v)
        pad = (hi - lo) * 0.06 or max(1.0, abs(hi)) * 0.05
        return lo - pad, hi + pad

    (x0, x1), (y0, y1) = span(xs), span(ys)

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (w - left - right)

    def py(y: float) -> float:
        return h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom)

    parts = [
        f'<svg id="tradeoff" viewBox="0 0 {w} {h}" role="img" aria-labelledby="tradeoff-title" '
        'font-family="sans-serif" font-size="11">',
        '<title id="tradeoff-title">Trade-off chart: outcome value against social value of each '
        "optimal allocation; the table below gives the same figures.</title>",
        f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" '
        'fill="none" stroke="#bbb"/>',
    ]
    for t in _ticks(x0, x1):
        parts.append(
            f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top}" y2="{h - bottom}" stroke="#eee"/>'
            f'<text x="{px(t):.1f}" y="{h - bottom + 14}" text-anchor="middle">{t:,.0f}</text>'
        )
    for t in _ticks(y0, y1):
        parts.append(
            f'<line x1="{left}" x2="{w - right}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#eee"/>'
            f'<text x="{left - 4}" y="{py(t) + 4:.1f}" text-anchor="end">{t:,.0f}</text>'
        )
    parts.append(
        f'<text x="{(left + w - right) / 2}" y="{h - 8}" text-anchor="middle">'
        "outcome value (all weight on outcomes)</text>"
        f'<text transform="translate(14 {(top + h - bottom) / 2}) rotate(-90)" text-anchor="middle">'
        "social value (all weight on social value)</text>"
    )
    line = " ".join(f"{px(s.outcome):.1f},{py(s.social):.1f}" for s in m.states if s.point is not None)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#9bb7d4" stroke-width="1.5"/>')
    placed: list[tuple[float, float]] = []
    for i, s in enumerate(m.states):
        x, y = px(s.outcome), py(s.social)
        parts.append(
            f'<circle class="pt" data-state="{i}" cx="{x:.1f}" cy="{y:.1f}" r="4">'
            f"<title>{_e(_name(m, i))}: outcome {s.outcome:,.1f}, social {s.social:,.1f}</title></circle>"
        )
        if all(abs(x - a) + abs(y - b) > 22 for a, b in placed):
            placed.append((x, y))
            parts.append(f'<text x="{x + 6:.1f}" y="{y - 6:.1f}" font-size="10">{_e(_name(m, i))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _strip_svg(m: ShareMap) -> str:
    """The share axis 0..100% cut into the stretches where each allocation is shown."""
    runs: list[tuple[int, int, int]] = []
    for k, i in enumerate(m.state_at):
        if runs and runs[-1][2] == i:
            runs[-1] = (runs[-1][0], k, i)
        else:
            runs.append((k, k, i))
    parts = [
        f'<svg id="strip" viewBox="-0.5 0 {m.steps + 1} 10" preserveAspectRatio="none" '
        'aria-hidden="true" focusable="false">'
    ]
    for j, (a, b, i) in enumerate(runs):
        parts.append(
            f'<rect class="run r{j % 2}" data-state="{i}" x="{a - 0.5}" y="0" width="{b - a + 1}" height="10"/>'
        )
    width = max(1, m.steps // 250)
    parts.append(
        f'<g id="marker"><rect x="{-width / 2}" y="0" width="{width}" height="10" fill="#c53030"/></g></svg>'
    )
    return "".join(parts)


def _allocations_table(m: ShareMap) -> str:
    rows = []
    for i, s in enumerate(m.states):
        rows.append(
            f'<tr data-state="{i}"><td>{_e(_name(m, i))}</td><td>{_e(_span(m, i))}</td>'
            f'<td class="num">{s.outcome:,.1f}</td><td class="num">{s.social:,.1f}</td>'
            f'<td class="num">{len(s.chosen)}</td>'
            f'<td class="num">{_e(pounds(sum(c.cost for c in s.chosen)))}</td></tr>'
        )
    return (
        '<table id="allocations"><caption>Every optimal allocation (the trade-off chart as a table)'
        '</caption><thead><tr><th scope="col">Allocation</th><th scope="col">Where optimal</th>'
        '<th scope="col" class="num">Outcome value</th><th scope="col" class="num">Social value</th>'
        '<th scope="col" class="num">Awards</th><th scope="col" class="num">Money</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


_CSS = """
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; margin: 0 auto;
  max-width: 1000px; padding: 0 1rem 2rem; color: #1b1b1b; line-height: 1.4; overflow-wrap: anywhere; }
h1 { font-size: 1.5rem; margin: 1rem 0 0.3rem; }
h2 { font-size: 1.15rem; margin-top: 1.6rem; border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; }
.controls { position: sticky; top: 0; background: #fff; padding: 0.6rem 0; border-bottom: 1px solid #ddd;
  z-index: 1; }
.controls label { font-weight: 600; display: block; }
.slider-row { display: flex; align-items: center; gap: 0.6rem; flex-wrap: wrap; }
#share { flex: 1 1 16rem; min-width: 12rem; height: 2rem; }
#share-out { font-size: 1.4rem; font-weight: 700; min-width: 4.5em; font-variant-numeric: tabular-nums; }
button { font: inherit; padding: 0.2rem 0.6rem; }
#strip { display: block; width: 100%; height: 14px; margin-top: 0.3rem; }
#strip .r0 { fill: #c9d8ea; } #strip .r1 { fill: #a9c1dd; } #strip .now { fill: #2b6cb0; }
.axis { display: flex; justify-content: space-between; font-size: 0.75rem; color: #666; }
.headline { font-size: 1.05rem; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem; margin: 0.4rem 0; }
dl.summary dt { font-weight: 600; } dl.summary dd { margin: 0; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; font-size: 0.88rem; margin: 0.5rem 0; }
caption { text-align: left; font-weight: 600; padding: 0.2rem 0; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.25rem 0.4rem; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.now td { background: #fff6d6; }
.muted { color: #666; font-size: 0.85rem; }
.title { display: block; color: #555; font-size: 0.8rem; }
.bars { width: 30%; min-width: 5rem; }
.bar { display: block; height: 0.5rem; margin: 0.1rem 0; }
.bar.money { background: #2b6cb0; } .bar.need { background: #c9a227; }
.legend span { display: inline-block; width: 0.8em; height: 0.8em; margin: 0 0.3em 0 0.8em; }
.changes { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.changes section { border: 1px solid #ddd; border-radius: 0.4rem; padding: 0.4rem 0.7rem; }
.changes h3 { font-size: 1rem; margin: 0.2rem 0; }
.changes ul { margin: 0.2rem 0; padding-left: 1.2rem; font-size: 0.88rem; }
#tradeoff { width: 100%; max-width: 560px; height: auto; display: block; }
#tradeoff .pt { fill: #2b6cb0; } #tradeoff .pt.now { fill: #c53030; r: 7px; }
@media (max-width: 640px) {
  .changes { grid-template-columns: 1fr; }
  table { font-size: 0.8rem; }
  .bars { display: none; }
}
@media print {
  .controls { position: static; border: none; }
  .controls button, #share, #strip, .axis, .noprint { display: none; }
  body { max-width: none; }
  .bar, #strip, #tradeoff .pt { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  h2 { break-after: avoid; } tr { break-inside: avoid; }
}
"""

_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("whatif-data").textContent);
  var slider = document.getElementById("share");
  var shown = -1;
  function el(id) { return document.getElementById(id); }
  function cell(tr, value, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = value;
    tr.appendChild(td);
    return td;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function awardRow(i) {
    var c = data.cands[i], tr = document.createElement("tr");
    tr.setAttribute("data-award", c[0]);
    tr.setAttribute("data-variant", c[6]);
    var first = cell(tr, c[0]);
    if (c[1]) {
      var t = document.createElement("span");
      t.className = "title";
      t.textContent = c[1];
      first.appendChild(t);
    }
    cell(tr, c[2]);
    cell(tr, c[3]);
    cell(tr, c[4]);
    cell(tr, c[5], "num");
    return tr;
  }
  function moneyRows(body, rows) {
    clear(body);
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      cell(tr, r[0]); cell(tr, r[1], "num"); cell(tr, r[2], "num"); cell(tr, r[3], "num");
      cell(tr, r[4], "num"); cell(tr, r[5], "num");
      var bars = cell(tr, "", "bars");
      [["money", r[6]], ["need", r[7]]].forEach(function (b) {
        var s = document.createElement("span");
        s.className = "bar " + b[0];
        s.style.width = b[1];
        bars.appendChild(s);
      });
      body.appendChild(tr);
    });
  }
  function award(i) {
    var c = data.cands[i];
    return c[0] + " " + c[2] + " (" + c[3] + ", " + c[5] + ")";
  }
  function change(id, ch) {
    var box = el(id), list;
    clear(box);
    var p = document.createElement("p");
    box.appendChild(p);
    p.textContent = ch.text;
    if (!ch.enter.length && !ch.leave.length) { return; }
    [["Enter", ch.enter], ["Leave", ch.leave]].forEach(function (part) {
      var h = document.createElement("p");
      h.textContent = part[0] + " (" + part[1].length + "):" + (part[1].length ? "" : " none");
      box.appendChild(h);
      if (!part[1].length) { return; }
      list = document.createElement("ul");
      part[1].forEach(function (i) {
        var li = document.createElement("li");
        li.textContent = award(i);
        list.appendChild(li);
      });
      box.appendChild(list);
    });
  }
  function mark(selector, i) {
    document.querySelectorAll(selector).forEach(function (n) {
      var on = Number(n.getAttribute("data-state")) === i;
      n.classList.toggle("now", on);
      if (n.tagName === "TR") { if (on) { n.setAttribute("aria-current", "true"); } else { n.removeAttribute("aria-current"); } }
    });
  }
  function show(k) {
    var p = data.pos[k], i = p[0], s = data.states[i];
    el("share-out").textContent = p[1];
    el("share-print").textContent = p[1];
    slider.setAttribute("aria-valuetext", p[2]);
    el("value").textContent = p[3];
    el("value-outcome").textContent = p[4];
    el("value-social").textContent = p[5];
    el("marker").setAttribute("transform", "translate(" + k + " 0)");
    if (i === shown) { return; }
    shown = i;
    el("state-name").textContent = s.name;
    el("state-span").textContent = s.span;
    el("state-count").textContent = s.count;
    el("state-money").textContent = s.money;
    var body = el("awards-body");
    clear(body);
    s.awards.forEach(function (a) { body.appendChild(awardRow(a)); });
    moneyRows(el("districts-body"), s.districts);
    moneyRows(el("groups-body"), s.groups);
    change("change-up", s.up);
    change("change-down", s.down);
    mark("#tradeoff .pt", i);
    mark("#strip .run", i);
    mark("#allocations tbody tr", i);
  }
  function jump(direction) {
    var k = slider.valueAsNumber, i = data.pos[k][0];
    while (k + direction >= 0 && k + direction <= data.steps && data.pos[k][0] === i) { k += direction; }
    if (direction < 0) {
      var j = data.pos[k][0];
      while (k - 1 >= 0 && data.pos[k - 1][0] === j) { k -= 1; }
    }
    slider.value = String(k);
    show(k);
    slider.focus();
  }
  slider.addEventListener("input", function () { show(slider.valueAsNumber); });
  el("prev").addEventListener("click", function () { jump(-1); });
  el("next").addEventListener("click", function () { jump(1); });
  document.documentElement.setAttribute("data-ready", "true");
  show(slider.valueAsNumber);
})();
"""


def _document(problem: Problem, m: ShareMap) -> str:
    data = _payload(problem, m)
    start = round(problem.weights.social_value_share * m.steps)
    first = m.states[0].allocation.solver
    solved = len(m.solved)
    title = f"What if social value counted for more? {problem.name}"
    step = _percent(1 / m.steps, _grid_digits(m.steps))
    body = f"""
<h1>{_e(title)}</h1>
<p>Move the slider to choose how much of each application's score comes from social value
(the six social-capital objectives) rather than the panel's outcome score. At every position
the page shows the allocation that gives the most value within the budget and every rule of the
round: {len(m.frontier.points)} different allocations are optimal somewhere between 0% and 100%.</p>
<noscript><p><strong>This page needs JavaScript to move the slider.</strong> The table of every
optimal allocation below works without it.</p></noscript>
<div class="controls">
  <label for="share">Social value share of the score</label>
  <div class="slider-row">
    <button type="button" id="prev" aria-label="previous change of allocation">&#9664; change</button>
    <input type="range" id="share" min="0" max="{m.steps}" step="1" value="{start}"
      aria-describedby="share-help">
    <button type="button" id="next" aria-label="next change of allocation">change &#9654;</button>
    <output id="share-out" for="share"></output>
  </div>
  {_strip_svg(m)}
  <div class="axis" aria-hidden="true"><span>0% (outcome only)</span><span>50%</span>
    <span>100% (social value only)</span></div>
</div>
<p id="share-help" class="muted noprint">Arrow keys move the slider {step}, Page Up and Page Down
10%, Home and End to the ends; the buttons jump to where the optimal allocation changes.</p>
<p class="headline">At <strong id="share-print"></strong> social value the optimal allocation is
<strong id="state-name"></strong> (<span id="state-span"></span>).</p>
<dl class="summary">
  <dt>Awards</dt><dd id="state-count"></dd>
  <dt>Money</dt><dd id="state-money"></dd>
  <dt>Value</dt><dd><span id="value"></span> = outcome <span id="value-outcome"></span>
    + social <span id="value-social"></span></dd>
</dl>
<h2>What changes at the next breakpoints</h2>
<div class="changes">
  <section aria-labelledby="down-title"><h3 id="down-title">Less social value</h3>
    <div id="change-down"></div></section>
  <section aria-labelledby="up-title"><h3 id="up-title">More social value</h3>
    <div id="change-up"></div></section>
</div>
<h2>Trade-off between outcome and social value</h2>
{_tradeoff_svg(m)}
<p class="muted">Each point is an allocation that is optimal for some share; the red one is
optimal at the current share. Its value is (1 &minus; share) &times; outcome value + share
&times; social value.</p>
{_allocations_table(m)}
<h2>Money by district against need</h2>
<table><thead><tr><th scope="col">District</th><th scope="col" class="num">Money</th>
<th scope="col" class="num">Share</th><th scope="col" class="num">Need share</th>
<th scope="col" class="num">Gap</th><th scope="col" class="num">Awards serving</th>
<th scope="col" class="bars">Share vs need</th></tr></thead><tbody id="districts-body"></tbody></table>
<p class="muted legend"><span class="bar money"></span>share of money<span class="bar need"></span>share
of need. Money for awards serving several districts, or the whole county, is attributed pro rata as
the rules attribute it.</p>
<h2>Money by client group</h2>
<table><thead><tr><th scope="col">Client group</th><th scope="col" class="num">Money</th>
<th scope="col" class="num">Share</th><th scope="col" class="num">Need share</th>
<th scope="col" class="num">Gap</th><th scope="col" class="num">Awards serving</th>
<th scope="col" class="bars">Share vs need</th></tr></thead><tbody id="groups-body"></tbody></table>
<h2>Awards</h2>
<table id="awards"><thead><tr><th scope="col">Application</th><th scope="col">Organisation</th>
<th scope="col">Option</th><th scope="col">Serves</th><th scope="col" class="num">Amount</th></tr></thead>
<tbody id="awards-body"></tbody></table>
<h2>How these figures were found</h2>
<p class="muted">Every allocation here is exact and was checked by allocate's independent verifier:
the weight frontier ({m.frontier.solves} solver calls, backend {_e(first.backend)}
{_e(first.version)}) finds each allocation that is optimal for some share and the exact interval
of shares where it is; at a breakpoint the allocations on either side tie. At shares on or within
a hair of a breakpoint, and at 0% and 100%, the page shows what <code>solve</code> returns at that
share ({solved} such shares). Values and money are computed by allocate for each of the
{m.steps + 1} shares on the slider; the page only looks them up. allocate {_e(library_version())}.</p>
"""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>{body}"
        f'<script type="application/json" id="whatif-data">{_json(data)}</script>\n'
        f"<script>{_JS}</script>\n</body>\n</html>\n"
    )
