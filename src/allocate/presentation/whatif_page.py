"""The what-if page: one self-contained HTML file with a slider over the social value share.

For every share on the slider's grid (0.1% steps by default) the page shows the optimal
allocation, its value split into outcome and social parts, money by district against need
and by client group, the awards that enter and leave at the next breakpoints either way, and
the trade-off chart with the current allocation marked. Everything shown is computed here,
in Python, from the exact frontier and `solve` (see `allocate.analysis.share_map`), and
embedded as JSON; the page's script only looks values up and puts text into the document.
Inline CSS, JS and SVG, no external resources: it works offline and from an email attachment.
The markup is in `templates/whatif.html.j2`; text from the problem reaches the document only
through Jinja2's autoescape, the `tojson` filter or the script's `textContent`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from allocate.analysis.frontier import Frontier
from allocate.analysis.share_map import Change, ShareMap, State, award_key, share_map
from allocate.domain.candidates import Candidate
from allocate.domain.model import Problem
from allocate.domain.tally import Tally
from allocate.engine.backends import DEFAULT_BACKEND
from allocate.engine.finish import library_version
from allocate.engine.options import SolverOptions
from allocate.presentation.summary import pounds

if TYPE_CHECKING:
    import jinja2


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


@functools.cache
def _templates() -> jinja2.Environment:
    """The templates next to this module (they follow it if it moves), loaded once per process."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader(__name__.rpartition(".")[0], "templates"),
        autoescape=True,  # every template is HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # tojson: compact, and keys in the payload's order (Jinja's default sorts them).
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "separators": (",", ":")}
    return env


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


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    step *= next(f for f in (1, 2, 2.5, 5, 10) if f * step >= raw)
    first = math.ceil(lo / step) * step
    return [first + j * step for j in range(int((hi - first) / step) + 1)]


def _tradeoff(m: ShareMap) -> dict[str, object]:
    """The trade-off chart: outcome value against social value of every state (the script marks
    the current one)."""
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

    points = []
    placed: list[tuple[float, float]] = []
    for i, s in enumerate(m.states):
        x, y = px(s.outcome), py(s.social)
        labelled = all(abs(x - a) + abs(y - b) > 22 for a, b in placed)
        if labelled:
            placed.append((x, y))
        point = (i, _name(m, i), f"{x:.1f}", f"{y:.1f}", f"{s.outcome:,.1f}", f"{s.social:,.1f}")
        points.append((*point, labelled, f"{x + 6:.1f}", f"{y - 6:.1f}"))
    return {
        "width": w,
        "height": h,
        "left": left,
        "right": w - right,
        "top": top,
        "bottom": h - bottom,
        "plot_width": w - left - right,
        "plot_height": h - top - bottom,
        "x_ticks": [(f"{px(t):.1f}", f"{t:,.0f}") for t in _ticks(x0, x1)],
        "x_tick_y": h - bottom + 14,
        "y_ticks": [(f"{py(t):.1f}", f"{py(t) + 4:.1f}", f"{t:,.0f}") for t in _ticks(y0, y1)],
        "y_tick_x": left - 4,
        "x_title_x": (left + w - right) / 2,
        "x_title_y": h - 8,
        "y_title_y": (top + h - bottom) / 2,
        "line": " ".join(f"{px(s.outcome):.1f},{py(s.social):.1f}" for s in m.states if s.point is not None),
        "points": points,
    }


def _strip(m: ShareMap) -> dict[str, object]:
    """The share axis 0..100% cut into the stretches where each allocation is shown."""
    runs: list[tuple[int, int, int]] = []
    for k, i in enumerate(m.state_at):
        if runs and runs[-1][2] == i:
            runs[-1] = (runs[-1][0], k, i)
        else:
            runs.append((k, k, i))
    width = max(1, m.steps // 250)
    return {
        "positions": m.steps + 1,
        "runs": [(i, a - 0.5, b - a + 1) for a, b, i in runs],
        "marker_x": -width / 2,
        "marker_width": width,
    }


def _allocations(m: ShareMap) -> list[tuple[object, ...]]:
    """Every optimal allocation, one row each: the trade-off chart as a table."""
    return [
        (
            i,
            _name(m, i),
            _span(m, i),
            f"{s.outcome:,.1f}",
            f"{s.social:,.1f}",
            len(s.chosen),
            pounds(sum(c.cost for c in s.chosen)),
        )
        for i, s in enumerate(m.states)
    ]


def _document(problem: Problem, m: ShareMap) -> str:
    first = m.states[0].allocation.solver
    return (
        _templates()
        .get_template("whatif.html.j2")
        .render(
            title=f"What if social value counted for more? {problem.name}",
            frontier_points=len(m.frontier.points),
            steps=m.steps,
            start=round(problem.weights.social_value_share * m.steps),
            strip=_strip(m),
            step=_percent(1 / m.steps, _grid_digits(m.steps)),
            tradeoff=_tradeoff(m),
            allocations=_allocations(m),
            solves=m.frontier.solves,
            backend=first.backend,
            version=first.version,
            solved=len(m.solved),
            shares=m.steps + 1,
            library=library_version(),
            data=_payload(problem, m),
        )
    )
