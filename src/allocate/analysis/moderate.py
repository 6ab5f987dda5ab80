"""Panel moderation: put every panel's outcome scores on one common footing.

Seven panels scoring 173 bids do not score alike: a lenient panel's bids outrank a strict
panel's in a single optimisation. `moderate` maps each panel's outcome scores through one
increasing function per panel and returns the moderated round beside a report per panel.
Three methods, each with its own assumption (docs/analysis.md, "moderate"):

* ``"standardise"``: each panel's mean and spread (population standard deviation) are mapped
  onto the all-panel mean and spread. Assumes every panel saw bids of the same quality on
  average: a panel that truly received better bids is marked down.
* ``"rank"``: each score becomes its percentile within its panel (mid-rank for ties), read
  off the all-panel score distribution. Assumes the same as standardise, and also discards how
  far apart a panel placed its bids (only the order within the panel is kept).
* ``"anchor"``: applications scored by more than one panel (`Application.panel_scores`) set
  the exchange rate: each panel's leniency is a constant offset, fitted by least squares to
  the differences on shared bids, with the offsets averaging zero over all applications (the
  all-panel mean is kept). Assumes panels differ by a constant, not in spread; needs every
  panel linked to the others by shared bids. Uses no assumption about the bids' quality.

Only outcome scores are moderated (the panel score); social-capital scores are left as they
are. A variant's own outcome score, and the scores other panels gave an anchor bid, go through
the map of the panel that gave them. Moderated scores are clipped to the declared scale
(0..``scale.outcome_max``) and the report counts how many were. The input is never changed; the
same round and method always give the same moderated round.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from allocate.analysis.compare import Comparison, compare
from allocate.domain.errors import InvalidProblemError
from allocate.domain.model import Problem
from allocate.domain.parts import Application
from allocate.engine.backends import DEFAULT_BACKEND
from allocate.engine.options import SolverOptions
from allocate.engine.result import Allocation

Method = Literal["standardise", "rank", "anchor"]
METHODS: tuple[str, ...] = get_args(Method)

ScoreMap = Callable[[np.ndarray], np.ndarray]


def _affine(shift: float, centre: float = 0.0, factor: float = 1.0) -> ScoreMap:
    """x ↦ shift + (x − centre)·factor."""

    def f(x: np.ndarray) -> np.ndarray:
        return np.asarray(shift + (x - centre) * factor, dtype=np.float64)

    return f


@dataclass(frozen=True)
class PanelEffect:
    """What moderation did to one panel's scores, and what that did to its awards."""

    panel: str
    """The panel ("" for applications with no panel named)."""
    applications: int
    """Applications the panel scored as their own panel."""
    raw_mean: float
    raw_sd: float
    moderated_mean: float
    moderated_sd: float
    clipped: int
    """Scores (applications' and variants') the map took past the scale and that were clipped."""
    anchors: int
    """Scores this panel gave or received on bids another panel also scored."""
    awards_changed: int | None
    """This panel's applications funded in one solve and not the other, or as another option
    (None when the allocations were not solved or one round had no allocation)."""

    @property
    def shift(self) -> float:
        """Moderated mean minus raw mean, in outcome points (positive: the panel was strict)."""
        return self.moderated_mean - self.raw_mean

    @property
    def spread(self) -> float:
        """Moderated spread over raw spread (1: unchanged; nan when the panel's scores are all equal)."""
        return self.moderated_sd / self.raw_sd if self.raw_sd > 0 else math.nan


@dataclass(frozen=True)
class Moderation:
    """The moderated round, a report per panel, and (optionally) raw vs moderated allocations."""

    method: Method
    problem: Problem
    """The round with moderated outcome scores (everything else as given)."""
    panels: tuple[PanelEffect, ...]
    """One entry per panel, sorted by panel name."""
    scores: dict[str, tuple[float, float]]
    """Application id → (raw, moderated) outcome score as submitted."""
    raw: Allocation | None = None
    moderated: Allocation | None = None
    comparison: Comparison | None = None
    """`compare(raw, moderated, original problem)`: what moderation moved (value change is in
    each round's own scores)."""

    @property
    def clipped(self) -> int:
        return sum(p.clipped for p in self.panels)

    def text(self) -> str:
        lines = [f"Moderation by {self.method}:"]
        for p in self.panels:
            changed = "" if p.awards_changed is None else f", {p.awards_changed} award(s) change"
            spread = "" if math.isnan(p.spread) else f", spread ×{p.spread:.2f}"
            lines.append(
                f"  {p.panel or '(no panel)'}: {p.applications} bids, mean {p.raw_mean:.1f} → "
                f"{p.moderated_mean:.1f} ({p.shift:+.1f}){spread}{changed}"
                + (f"; {p.clipped} score(s) clipped to the scale" if p.clipped else "")
            )
        if self.comparison is not None:
            lines.append("Raw vs moderated: " + self.comparison.summary())
        return "\n".join(lines)


def _panels(problem: Problem) -> list[str]:
    own = {a.panel for a in problem.applications}
    others = {p for a in problem.applications for p in a.panel_scores}
    return sorted(own | others)


def _own_scores(problem: Problem) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = {}
    for a in problem.applications:
        out.setdefault(a.panel, []).append(a.outcome_score)
    return {p: np.array(v, dtype=np.float64) for p, v in out.items()}


def _standardise(problem: Problem) -> dict[str, ScoreMap]:
    own = _own_scores(problem)
    every = np.array([a.outcome_score for a in problem.applications], dtype=np.float64)
    mu, sd = float(every.mean()), float(every.std())
    maps: dict[str, ScoreMap] = {}
    for p, s in own.items():
        mu_p, sd_p = float(s.mean()), float(s.std())
        # A panel whose scores are all equal has no spread to rescale: it is shifted only.
        factor = sd / sd_p if sd_p > 0 else 1.0
        maps[p] = _affine(mu, mu_p, factor)
    return maps


def _midranks(sorted_unique: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mid-rank percentile of each distinct value among `values`: (below + equal/2) / n."""
    below = np.searchsorted(np.sort(values), sorted_unique, side="left")
    upto = np.searchsorted(np.sort(values), sorted_unique, side="right")
    return (below + (upto - below) / 2.0) / len(values)


def _rank(problem: Problem) -> dict[str, ScoreMap]:
    every = np.array([a.outcome_score for a in problem.applications], dtype=np.float64)
    all_u = np.unique(every)
    all_q = _midranks(all_u, every)
    maps: dict[str, ScoreMap] = {}
    for p, s in _own_scores(problem).items():
        u = np.unique(s)
        target = np.interp(_midranks(u, s), all_q, all_u)

        def f(x: np.ndarray, u: np.ndarray = u, target: np.ndarray = target) -> np.ndarray:
            # Between the panel's own scores: linear; beyond them: parallel shift (slope 1),
            # so a variant scored below every bid of its panel keeps its distance.
            inside = np.interp(x, u, target)
            below = target[0] + (x - u[0])
            above = target[-1] + (x - u[-1])
            return np.asarray(np.where(x < u[0], below, np.where(x > u[-1], above, inside)), dtype=np.float64)

        maps[p] = f
    return maps


def _anchor(problem: Problem, panels: list[str]) -> tuple[dict[str, ScoreMap], dict[str, int]]:
    pos = {p: i for i, p in enumerate(panels)}
    pairs = [
        (a.panel, q, a.outcome_score - s) for a in problem.applications for q, s in a.panel_scores.items()
    ]
    if not pairs:
        raise InvalidProblemError(
            ("moderate", "method"),
            "'anchor' needs applications scored by more than one panel (Application.panel_scores); none has any",
        )
    # Panels must form one connected group through shared bids, or their offsets are unknown.
    parent = list(range(len(panels)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for p, q, _ in pairs:
        parent[root(pos[p])] = root(pos[q])
    groups: dict[int, list[str]] = {}
    for p in panels:
        groups.setdefault(root(pos[p]), []).append(p)
    if len(groups) > 1:
        alone = sorted(groups.values(), key=lambda g: (len(g), g))[0]
        raise InvalidProblemError(
            ("moderate", "method"),
            f"'anchor' cannot relate panel(s) {', '.join(repr(p) for p in alone)} to the others: "
            "no application was scored both by them and by another panel",
        )
    # offset[p] - offset[q] ≈ score by p - score by q on each shared bid; Σ_apps offset = 0.
    n = len(panels)
    rows = np.zeros((len(pairs) + 1, n))
    rhs = np.zeros(len(pairs) + 1)
    for k, (p, q, d) in enumerate(pairs):
        rows[k, pos[p]] += 1.0
        rows[k, pos[q]] -= 1.0
        rhs[k] = d
    for a in problem.applications:
        rows[-1, pos[a.panel]] += 1.0 / len(problem.applications)
    offset = np.linalg.lstsq(rows, rhs, rcond=None)[0]
    counts = dict.fromkeys(panels, 0)
    for p, q, _ in pairs:
        counts[p] += 1
        counts[q] += 1
    maps: dict[str, ScoreMap] = {p: _affine(-float(offset[pos[p]])) for p in panels}
    return maps, counts


def _apply(problem: Problem, maps: dict[str, ScoreMap]) -> tuple[Problem, dict[str, int]]:
    """The round with every outcome score mapped by its panel's map and clipped to the scale."""
    hi = problem.scale.outcome_max
    clipped = dict.fromkeys(maps, 0)

    def moved(panel: str, score: float) -> float:
        v = float(maps[panel](np.array([score], dtype=np.float64))[0])
        if v < 0.0 or v > hi:
            clipped[panel] += 1
        return min(hi, max(0.0, v))

    apps: list[Application] = []
    for a in problem.applications:
        variants = tuple(
            v
            if v.outcome_score is None
            else v.model_copy(update={"outcome_score": moved(a.panel, v.outcome_score)})
            for v in a.variants
        )
        others = {q: moved(q, s) for q, s in a.panel_scores.items()} if a.panel_scores else {}
        apps.append(
            a.model_copy(
                update={
                    "outcome_score": moved(a.panel, a.outcome_score),
                    "variants": variants,
                    "panel_scores": others,
                }
            )
        )
    return problem.replace(applications=tuple(apps)), clipped


def _funded(allocation: Allocation) -> dict[str, str | None]:
    return {a.application: a.variant for a in allocation.awards}


def moderate(
    problem: Problem,
    method: Method = "standardise",
    *,
    allocations: bool = True,
    backend: str = DEFAULT_BACKEND,
    options: SolverOptions | None = None,
) -> Moderation:
    """The round with each panel's outcome scores moderated by `method`, and a report per panel.

    `method` is ``"standardise"``, ``"rank"`` or ``"anchor"`` (module docstring: what each
    assumes and when to use it). With `allocations` (default), the raw and the moderated rounds
    are both solved (`backend`, `options`), compared (`compare`), and each panel's report
    counts its awards that change. Raises InvalidProblemError naming ``moderate.method`` for an
    unknown method, or an anchor moderation the data cannot support.
    """
    if method not in METHODS:
        raise InvalidProblemError(
            ("moderate", "method"), f"unknown method {method!r} (expected one of {', '.join(METHODS)})"
        )
    panels = _panels(problem)
    anchors = dict.fromkeys(panels, 0)
    if method == "standardise":
        maps = _standardise(problem)
    elif method == "rank":
        maps = _rank(problem)
    else:
        maps, anchors = _anchor(problem, panels)
    for p in panels:  # a panel that scored only other panels' bids keeps its scores (no data)
        maps.setdefault(p, _affine(0.0))
    moderated, clipped = _apply(problem, maps)
    raw_alloc = mod_alloc = None
    comparison = None
    changed: dict[str, int] | None = None
    if allocations:
        from allocate.engine.solve import solve

        opts = SolverOptions() if options is None else options
        raw_alloc = solve(problem, backend, options=opts, diagnose=False)
        mod_alloc = solve(moderated, backend, options=opts, diagnose=False)
        if raw_alloc.status in ("optimal", "feasible") and mod_alloc.status in ("optimal", "feasible"):
            comparison = compare(raw_alloc, mod_alloc, problem)
            fa, fb = _funded(raw_alloc), _funded(mod_alloc)
            changed = dict.fromkeys(panels, 0)
            for a in problem.applications:
                if fa.get(a.id, "-") != fb.get(a.id, "-"):
                    changed[a.panel] += 1
    raw_scores = _own_scores(problem)
    new_scores = _own_scores(moderated)
    effects = []
    for p in panels:
        r = raw_scores.get(p, np.zeros(0))
        m = new_scores.get(p, np.zeros(0))
        effects.append(
            PanelEffect(
                panel=p,
                applications=len(r),
                raw_mean=float(r.mean()) if len(r) else math.nan,
                raw_sd=float(r.std()) if len(r) else math.nan,
                moderated_mean=float(m.mean()) if len(m) else math.nan,
                moderated_sd=float(m.std()) if len(m) else math.nan,
                clipped=clipped.get(p, 0),
                anchors=anchors.get(p, 0),
                awards_changed=None if changed is None else changed[p],
            )
        )
    scores = {
        a.id: (a.outcome_score, b.outcome_score)
        for a, b in zip(problem.applications, moderated.applications, strict=True)
    }
    return Moderation(method, moderated, tuple(effects), scores, raw_alloc, mod_alloc, comparison)


def panel_effect_html(moderation: Moderation) -> str:
    """The report's panel-effect section: per panel, how far moderation moved its scores and
    how many of its awards change (a table, then what moved in one sentence)."""
    from html import escape

    def num(v: float, fmt: str) -> str:
        return "–" if math.isnan(v) else format(v, fmt)

    head = (
        "<thead><tr><th>Panel</th><th>Bids</th><th>Mean (raw → moderated)</th><th>Shift</th>"
        "<th>Spread ×</th><th>Clipped</th><th>Awards that change</th></tr></thead>"
    )
    body = "".join(
        f"<tr><td>{escape(p.panel or '(no panel)')}</td><td>{p.applications}</td>"
        f"<td>{num(p.raw_mean, '.1f')} → {num(p.moderated_mean, '.1f')}</td>"
        f"<td>{num(p.shift, '+.1f')}</td><td>{num(p.spread, '.2f')}</td><td>{p.clipped}</td>"
        f"<td>{'–' if p.awards_changed is None else p.awards_changed}</td></tr>"
        for p in moderation.panels
    )
    said = (
        f"<p>Outcome scores moderated by <strong>{escape(moderation.method)}</strong> "
        "(docs/analysis.md, “moderate”). A positive shift means the panel scored strictly and its "
        "bids gain; scores are kept within the declared scale"
        + (f" ({moderation.clipped} were clipped to it)" if moderation.clipped else "")
        + ".</p>"
    )
    moved = ""
    if moderation.comparison is not None:
        c = moderation.comparison
        moved = (
            f"<p>Against the raw scores, {len(c.entered)} award(s) enter "
            f"({escape(', '.join(c.entered) or 'none')}) and {len(c.left)} leave "
            f"({escape(', '.join(c.left) or 'none')}).</p>"
        )
    return f'{said}<div class="wide"><table>{head}<tbody>{body}</tbody></table></div>{moved}'
