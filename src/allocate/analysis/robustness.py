"""How sure is the allocation, given that panels score with some noise?

Each sample perturbs the outcome scores: one bias per panel (the same draw for every
application that panel scored, `Application.panel`) plus independent noise per score, both
normal, clipped to the score scale; optionally social-capital scores get independent noise
too. Each perturbed round is solved exactly (pass marks apply to the perturbed scores), and
the result is each application's probability of being funded, and how stable the funded set
is against the baseline allocation (mean Jaccard overlap, share of samples identical to it).

All draws are made here from one seeded generator, before any solve, so the answer depends
only on the seed, whatever executor runs the solves and in whatever order they finish.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from typing import Literal

import numpy as np

from allocate.analysis.workers import Progress, executor_for, session, token
from allocate.domain.errors import InfeasibleError, InvalidProblemError, VerificationError
from allocate.domain.model import Problem
from allocate.domain.parts import Application
from allocate.domain.rules import PassMark
from allocate.engine.backends import DEFAULT_BACKEND
from allocate.engine.compile import compile_problem
from allocate.engine.options import SolverOptions
from allocate.engine.result import Allocation
from allocate.engine.solve import solve
from allocate.engine.verify import verify


@dataclass(frozen=True)
class ScoreNoise:
    """Standard deviations of the score uncertainty, in score points of the problem's scale."""

    panel_sd: float = 2.0
    """Outcome-score bias of a panel: one draw per panel per sample, shared by its applications."""
    score_sd: float = 4.0
    """Outcome-score noise of each application, drawn independently."""
    social_sd: float = 0.0
    """Noise on each social-capital score of each application, drawn independently."""

    def __post_init__(self) -> None:
        for name in ("panel_sd", "score_sd", "social_sd"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise InvalidProblemError(("ScoreNoise", name), f"must be a finite number >= 0, not {v!r}")


@dataclass(frozen=True)
class Robustness:
    """Funding probabilities and stability of the allocation under score noise."""

    baseline: Allocation
    """The allocation with the scores as given."""
    probability: dict[str, float]
    """Application id → share of (solved) samples in which it is funded, in [0, 1]."""
    samples: int
    """Samples drawn."""
    solved: int
    """Samples with an allocation meeting every rule (the others are left out of every figure)."""
    mean_jaccard: float
    """Mean |F ∩ B| / |F ∪ B| of each sample's funded set F with the baseline's B (1 = identical)."""
    same_as_baseline: float
    """Share of solved samples whose funded set equals the baseline's."""
    funded_sets: tuple[frozenset[str] | None, ...]
    """Each sample's funded set, in sample order (None: no allocation met every rule)."""

    def text(self) -> str:
        unsure = sorted((p, a) for a, p in self.probability.items() if 0.05 < p < 0.95)
        lines = [
            f"Over {self.solved} of {self.samples} noisy re-scorings, the funded set overlaps the baseline by "
            f"{self.mean_jaccard:.0%} on average and is identical in {self.same_as_baseline:.0%} of them.",
        ]
        if unsure:
            lines.append(
                "Least certain decisions: "
                + ", ".join(f"{a} ({p:.0%})" for p, a in sorted(unsure, key=lambda t: abs(t[0] - 0.5))[:10])
                + "."
            )
        return "\n".join(lines)


NoiseModel = Literal["application", "panel"]
"""Per-bid noise on top of panel biases, or panel-level shifts only (`draw`)."""
Deltas = tuple[np.ndarray, np.ndarray]
"""(outcome delta per application, social delta per application × objective) for one sample."""


def _perturb(problem: Problem, outcome: np.ndarray, social: np.ndarray) -> Problem:
    """The problem with every application's (and variant's) scores shifted and clipped to the scale."""
    hi_o, hi_s = problem.scale.outcome_max, problem.scale.social_max

    def o(score: float, d: float) -> float:
        return float(min(hi_o, max(0.0, score + d)))

    def s(scores: tuple[float, ...], d: np.ndarray) -> tuple[float, ...]:
        return tuple(float(v) for v in np.clip(np.asarray(scores) + d, 0.0, hi_s))

    apps: list[Application] = []
    for i, app in enumerate(problem.applications):
        variants = tuple(
            v.model_copy(
                update={
                    "outcome_score": None if v.outcome_score is None else o(v.outcome_score, outcome[i]),
                    "social_scores": None if v.social_scores is None else s(v.social_scores, social[i]),
                }
            )
            for v in app.variants
        )
        apps.append(
            app.model_copy(
                update={
                    "outcome_score": o(app.outcome_score, outcome[i]),
                    "social_scores": s(app.social_scores, social[i]),
                    "variants": variants,
                }
            )
        )
    return problem.replace(applications=tuple(apps))


def solve_samples(
    problem: Problem, deltas: Sequence[Deltas], backend: str, options: SolverOptions
) -> list[frozenset[str] | None]:
    """Solve each perturbed round from scratch (the reference the fast path is tested against)."""
    out: list[frozenset[str] | None] = []
    for outcome, social in deltas:
        alloc = solve(_perturb(problem, outcome, social), backend, options=options, diagnose=False)
        out.append(alloc.funded if alloc.status in ("optimal", "feasible") else None)
    return out


def _without_marks(problem: Problem) -> Problem:
    """The round with its pass marks dropped: they are the only rules that read scores."""
    return problem.replace(rules=tuple(r for r in problem.rules if not isinstance(r, PassMark)))


def _failing(marks: list[PassMark], outcome: np.ndarray, social: np.ndarray) -> np.ndarray:
    """Candidates below a pass mark, decided exactly as `PassMark.emit` decides them."""
    failing = np.zeros(len(outcome), dtype=bool)
    for m in marks:
        if m.min_outcome is not None:
            failing |= outcome < m.min_outcome
        if m.min_social is not None:
            mean = social.mean(axis=1)
            failing |= mean < m.min_social
            for j in np.flatnonzero(np.abs(mean - m.min_social) <= 1e-9 * max(1.0, m.min_social)):
                failing[j] = m.fails(float(outcome[j]), tuple(float(v) for v in social[j]))
    return failing


def _samples(
    key: str,
    problem: Problem,
    bare: Problem,
    backend: str,
    options: SolverOptions,
    deltas: Sequence[Deltas],
) -> list[frozenset[str] | None]:
    """Solve perturbed rounds on one loaded model (a task of `robustness`).

    Scores enter only the objective and the pass marks, so one model of the round without its
    pass marks serves every sample: each gets its own objective, the candidates below a pass
    mark at its scores pinned out. Each answer is verified against the perturbed round itself.
    No starting allocation is given: started from the baseline (less the bids a sample's pass
    mark excludes) CP-SAT took longer on East Sussex, 4.5 s a sample against 3.3 s without
    (the baseline is far from a sample's optimum; benchmarks/RESULTS.md).
    """
    model, loaded = session(key, bare, backend)
    cands = model.candidates
    position = {a.id: i for i, a in enumerate(problem.applications)}
    app = np.array([position[c.application.id] for c in cands], dtype=np.int64)
    score = np.array([c.outcome_score for c in cands], dtype=np.float64)
    scores = np.array([c.social_scores for c in cands], dtype=np.float64).reshape(len(cands), -1)
    hi_o, hi_s = problem.scale.outcome_max, problem.scale.social_max
    marks = [r for r in problem.rules if isinstance(r, PassMark)]
    out: list[frozenset[str] | None] = []
    for d_outcome, d_social in deltas:
        # The same float operations as _perturb and compile, so the objective is the one a
        # fresh compile of the perturbed round gives.
        outcome = np.clip(score + d_outcome[app], 0.0, hi_o)
        social = np.clip(scores + d_social[app], 0.0, hi_s)
        scored = dataclasses.replace(model, outcome_norm=outcome / hi_o, social_norm=social / hi_s)
        o, s = scored.objective(problem.weights)
        failing = _failing(marks, outcome, social)
        raw = loaded.solve(o + s, options, fix=dict.fromkeys(np.flatnonzero(failing).tolist(), 0))
        if raw.x is None:
            out.append(None)
            continue
        chosen = [
            (cands[j].application.id, cands[j].variant_id) for j in np.flatnonzero(raw.x[: model.n] > 0.5)
        ]
        check = verify(_perturb(problem, d_outcome, d_social), chosen)
        if not check.ok:
            raise VerificationError(
                f"backend {backend!r} returned an allocation that breaks the rules of a perturbed round: "
                + "; ".join(check.violations[:5]),
                check.violations,
            )
        out.append(frozenset(a for a, _ in chosen))
    return out


def draw(
    problem: Problem, noise: ScoreNoise, samples: int, seed: int, noise_model: NoiseModel = "application"
) -> list[Deltas]:
    """The score shifts of every sample, from one generator: panels in sorted order, then apps.

    ``noise_model="panel"``: only panel-level shifts, each panel's whole scoring moving together
    (outcome SD `panel_sd`, every social score of its bids SD `social_sd`); no per-bid noise.
    """
    rng = np.random.default_rng(seed)
    panels = sorted({a.panel for a in problem.applications})
    panel_of = np.array([panels.index(a.panel) for a in problem.applications], dtype=np.int64)
    n, k = len(problem.applications), len(problem.social_objectives)
    out = []
    if noise_model == "panel":
        for _ in range(samples):
            bias = rng.normal(0.0, noise.panel_sd, size=len(panels))
            social_bias = rng.normal(0.0, noise.social_sd, size=len(panels))
            out.append((bias[panel_of], np.repeat(social_bias[panel_of][:, None], k, axis=1)))
        return out
    for _ in range(samples):
        bias = rng.normal(0.0, noise.panel_sd, size=len(panels))
        outcome = bias[panel_of] + rng.normal(0.0, noise.score_sd, size=n)
        social = rng.normal(0.0, noise.social_sd, size=(n, k))
        out.append((outcome, social))
    return out


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return 1.0 if not union else len(a & b) / len(union)


def robustness(
    problem: Problem,
    noise: ScoreNoise | None = None,
    samples: int = 100,
    seed: int = 0,
    executor: Executor | None = None,
    backend: str = DEFAULT_BACKEND,
    *,
    options: SolverOptions | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
    noise_model: NoiseModel = "application",
) -> Robustness:
    """Each application's probability of funding under panel-score noise, and the allocation's stability.

    `noise` defaults to ``ScoreNoise()`` (panel bias SD 2, per-score SD 4 outcome points).
    Samples are solved in batches (default: 10 batches) submitted to `executor` (any
    `concurrent.futures.Executor`, e.g. a ProcessPoolExecutor or a Dask client's
    ``get_executor()``; default: a pool of threads on rounds of 50 or more candidate awards, else
    this process). Each worker loads the round once and re-solves it per sample with new
    objective and pass-mark pins. ``progress(done, total)`` is
    called as batches finish. The same problem, noise, samples and seed always give the same
    result, whatever the executor. ``noise_model="panel"`` draws only panel-level shifts (a
    panel's whole scoring moves together; see `draw`), to ask how much the allocation depends on
    which panel scored a bid.
    """
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1:
        raise InvalidProblemError(("robustness", "samples"), f"must be a whole number >= 1, not {samples!r}")
    if noise_model not in ("application", "panel"):
        raise InvalidProblemError(
            ("robustness", "noise_model"), f"must be 'application' or 'panel', not {noise_model!r}"
        )
    nz = ScoreNoise() if noise is None else noise
    opts = SolverOptions() if options is None else options
    baseline = solve(problem, backend, options=opts, diagnose=False)
    if baseline.status not in ("optimal", "feasible"):
        raise InfeasibleError("the round has no allocation meeting every rule; run diagnose() first")
    deltas = draw(problem, nz, samples, seed, noise_model)
    size = batch_size or max(1, math.ceil(samples / 10))
    batches = [deltas[i : i + size] for i in range(0, samples, size)]
    bare = _without_marks(problem)
    model = compile_problem(bare)
    key = token(bare)
    with executor_for(executor, len(batches), model.n, "robustness") as pool:
        futures = [pool.submit(_samples, key, problem, bare, backend, opts, b) for b in batches]
        position = {f: i for i, f in enumerate(futures)}
        results: dict[int, list[frozenset[str] | None]] = {}
        for fut in as_completed(futures):
            results[position[fut]] = fut.result()
            if progress is not None:
                progress(sum(len(r) for r in results.values()), samples)
    sets = tuple(s for i in range(len(batches)) for s in results[i])
    solved = [s for s in sets if s is not None]
    ids = [a.id for a in problem.applications]
    m = len(solved)
    probability = {a: (sum(a in s for s in solved) / m if m else 0.0) for a in ids}
    base = baseline.funded
    mean_j = float(np.mean([_jaccard(s, base) for s in solved])) if m else 0.0
    same = sum(s == base for s in solved) / m if m else 0.0
    return Robustness(baseline, probability, samples, m, mean_j, same, sets)
