"""Fast paths of the analyses (issue 13) return exactly what independent solves return.

sweep read off the frontier, frontier fanned out, explain's warm-started re-solves, robustness
on one loaded model with pass-mark pins, price_of_rules fanned out: each is compared with the
plain path (independent `solve` calls, or the same analysis run in this process), on rounds
whose optima are unique (irregular costs and scores) and, by value, against brute force on
generated rounds. Every allocation is verified; no test measures time.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

from allocate import (
    Coverage,
    EqualityGap,
    InvalidProblemError,
    Lock,
    OrganisationCap,
    PassMark,
    ScoreNoise,
    SolverOptions,
    Variant,
    explain,
    frontier,
    price_of_rules,
    robustness,
    solve,
    sweep,
)
from allocate.analysis.robustness import draw, solve_samples
from allocate.analysis.workers import Serial, chunks
from allocate.domain.parts import as_weights
from allocate.io import read_problem
from brute import brute_force
from strategies import examples, problems
from test_analysis import tiny

SERIAL = Serial()


def _awards(a) -> frozenset:  # type: ignore[no-untyped-def]
    return frozenset((x.application, x.variant) for x in a.awards)


def _with_variants(n: int = 12, seed: int = 3):  # type: ignore[no-untyped-def]
    p = tiny(n=n, seed=seed, rules=(Coverage(over="district", min_count=1), PassMark(min_outcome=30.0)))
    apps = list(p.applications)
    for i in (0, 5):
        a = apps[i]
        apps[i] = a.model_copy(
            update={
                "variants": (
                    Variant(id=f"{a.id}v", cost=a.cost // 2 + 17, outcome_score=a.outcome_score - 3.1),
                )
            }
        )
    return p.replace(applications=tuple(apps))


# -- sweep from the frontier ------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: tiny(n=12, seed=3), _with_variants])
def test_sweep_from_frontier_gives_the_allocations_of_independent_solves(make) -> None:  # type: ignore[no-untyped-def]
    p = make()
    f = frontier(p, executor=SERIAL)
    shares = sorted({*np.linspace(0.0, 1.0, 41).tolist(), *f.breakpoints, 1e-9, 1 - 1e-9})
    progress: list[tuple[int, int]] = []
    out = sweep(p, shares, method="frontier", executor=SERIAL, progress=lambda d, t: progress.append((d, t)))
    assert progress[-1][0] == progress[-1][1]
    for share, a in zip(shares, out, strict=True):
        direct = solve(p, weights=as_weights(p, share))
        assert a.status == "optimal" and a.verified and a.weights.social_value_share == share
        assert _awards(a) == _awards(direct), share
        assert a.value == pytest.approx(direct.value, rel=1e-12)
        assert a.gap is not None and a.gap <= 1e-12


def test_sweep_auto_uses_the_frontier_for_many_shares_and_matches_solve_each() -> None:
    p = tiny(n=10, seed=4)
    shares = np.linspace(0.0, 1.0, 30).tolist()
    fast = sweep(p, shares, executor=SERIAL)
    plain = sweep(p, shares, method="solve", executor=SERIAL)
    assert [_awards(a) for a in fast] == [_awards(a) for a in plain]
    assert any(a.solver and "frontier" in a.solver.message for a in fast)


def test_sweep_frontier_refuses_mixed_families() -> None:
    p = tiny(n=6)
    other = p.weights.model_copy(update={"value_form": "score_sum"})
    with pytest.raises(InvalidProblemError, match="social_value_share"):
        sweep(p, [0.1, other], method="frontier", executor=SERIAL)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": "x"}, "method"),
        ({"batch_size": 0}, "batch_size"),
        ({"method": "frontier", "options": SolverOptions(relative_gap=0.5)}, "method"),
    ],
)
def test_sweep_names_a_bad_argument(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidProblemError, match=rf"sweep\.{field}"):
        sweep(tiny(n=6), [0.1, 0.2], executor=SERIAL, **kwargs)


def test_sweep_with_a_gap_solves_each_share_rather_than_claim_frontier_optima() -> None:
    """A frontier solved to a gap proves nothing between its points: with relative_gap > 0 'auto'
    solves each share, so no answer is labelled with a bound below a real allocation's value."""
    p = read_problem(Path(__file__).parents[1] / "examples" / "small_round")
    shares = [i / 30 for i in range(1, 30)]
    for a in sweep(p, shares, "highs", options=SolverOptions(relative_gap=0.5), executor=SERIAL):
        exact = solve(p, "highs", weights=a.weights)
        assert a.bound is not None and a.bound >= exact.value - 1e-6, (a.weights.social_value_share, a.bound)


@settings(max_examples=examples(15), deadline=None)
@given(problems(max_apps=6, max_combinations=2_000, max_rules=3))
def test_sweep_from_frontier_values_equal_brute_force(problem) -> None:  # type: ignore[no-untyped-def]
    if brute_force(problem).value is None:
        return
    shares = [0.0, 0.2, 0.35, 0.5, 0.8, 1.0]
    for share, a in zip(shares, sweep(problem, shares, method="frontier", executor=SERIAL), strict=True):
        best = brute_force(problem, as_weights(problem, share)).value
        assert a.verified and best is not None
        assert a.value == pytest.approx(best, rel=1e-9, abs=1e-6)


# -- frontier ---------------------------------------------------------------------------------


def test_frontier_fanned_out_equals_the_serial_search() -> None:
    p = tiny(n=12, seed=3)
    serial = frontier(p, executor=SERIAL)
    seen: list[tuple[int, int]] = []
    with ThreadPoolExecutor(2) as pool:
        fanned = frontier(p, executor=pool, progress=lambda d, t: seen.append((d, t)))
    assert [(_awards(q.allocation), q.share_low, q.share_high) for q in fanned.points] == [
        (_awards(q.allocation), q.share_low, q.share_high) for q in serial.points
    ]
    assert fanned.solves == serial.solves and seen[-1] == (serial.solves, serial.solves)


# -- explain ----------------------------------------------------------------------------------


def test_explain_fanned_out_equals_serial_and_reports_progress() -> None:
    p = _with_variants(n=10, seed=11)
    base = solve(p)
    serial = explain(p, base, executor=SERIAL)
    seen: list[tuple[int, int]] = []
    with ThreadPoolExecutor(2) as pool:
        fanned = explain(p, base, executor=pool, progress=lambda d, t: seen.append((d, t)))
    assert fanned.items == serial.items
    assert seen[-1] == (serial.solves, serial.solves) and len(seen) == serial.solves


def test_explain_margins_equal_independent_pinned_solves() -> None:
    p = _with_variants(n=9, seed=2)
    base = solve(p)
    ex = explain(p, base, executor=SERIAL)
    for e in ex.items:
        if e.margin is None:
            continue
        if e.funded:
            pinned = solve(p.replace(rules=(*p.rules, Lock(application=e.application, fund=False))))
        else:
            target = e.application if e.option is None else e.option
            pinned = solve(p.replace(rules=(*p.rules, Lock(application=e.application, variant=target))))
        assert e.margin == pytest.approx(max(0.0, base.value - pinned.value), rel=1e-9, abs=1e-6)


def test_explain_words_locks_social_marks_and_unreachable_margins() -> None:
    p = tiny(n=8, seed=5)
    cheapest = min(p.applications, key=lambda a: a.cost).id
    social_fail = max(p.applications, key=lambda a: a.cost).id
    apps = tuple(
        a.model_copy(update={"social_scores": (0.5,) * 6}) if a.id == social_fail else a
        for a in p.applications
    )
    p = p.replace(applications=apps, rules=(Lock(application=cheapest), PassMark(min_social=1.0)))
    ex = explain(p, solve(p), executor=SERIAL)
    locked = ex.for_application(cheapest)
    assert locked.funded and "locks it in" in locked.text and "Lock[fund" in locked.text
    marked = ex.for_application(social_fail)
    assert not marked.funded and "social pass mark of 1" in marked.text and "average 0.50" in marked.text
    for e in ex.items:
        if e.score_points is None:
            continue
        score = p.application(e.application).outcome_score
        beyond = score + e.score_points > p.scale.outcome_max if not e.funded else e.score_points > score
        assert ("cannot be reached on score alone" in e.text) == beyond
        assert ("outcome-score points" in e.text) == (not beyond)


def test_explain_says_when_a_margin_cannot_be_reached_on_score() -> None:
    # One dear, low-value bid next to a cheap good one: its margin is beyond the score scale.
    p = tiny(n=6, seed=1, budget_share=0.3)
    apps = list(p.applications)
    apps[0] = apps[0].model_copy(update={"outcome_score": 99.0, "cost": 1_000})
    p = p.replace(applications=tuple(apps))
    texts = [e.text for e in explain(p, solve(p), executor=SERIAL).items]
    assert any("cannot be reached on score alone" in t for t in texts)
    assert not any("outcome-score points" in t and "cannot" in t for t in texts)


# -- robustness -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [lambda: tiny(n=9, seed=6, rules=(PassMark(min_outcome=45.0),)), _with_variants]
)
def test_robustness_fast_path_equals_fresh_solves_of_each_perturbed_round(make) -> None:  # type: ignore[no-untyped-def]
    p = make()
    noise = ScoreNoise(panel_sd=6.0, score_sd=9.0, social_sd=0.4)
    seen: list[tuple[int, int]] = []
    r = robustness(p, noise, samples=10, seed=3, executor=SERIAL, progress=lambda d, t: seen.append((d, t)))
    reference = solve_samples(p, draw(p, noise, 10, 3), "cpsat", r.baseline.solver.options)  # type: ignore[union-attr]
    assert r.funded_sets == tuple(reference)
    assert seen[-1] == (10, 10)
    assert len(set(r.funded_sets)) > 1  # the pass mark and the noise matter here


def test_robustness_social_pass_mark_pins_follow_the_noise() -> None:
    p = tiny(n=8, seed=6, rules=(PassMark(min_social=2.6),))
    noise = ScoreNoise(panel_sd=0.0, score_sd=0.0, social_sd=0.8)
    r = robustness(p, noise, samples=8, seed=1, executor=SERIAL)
    assert r.funded_sets == tuple(solve_samples(p, draw(p, noise, 8, 1), "cpsat", r.baseline.solver.options))  # type: ignore[union-attr]


# -- price_of_rules ---------------------------------------------------------------------------


def test_price_of_rules_fanned_out_equals_serial() -> None:
    rules = (EqualityGap(over="district", basis="need", tolerance=0.08), OrganisationCap(max_awards=2))
    p = tiny(n=10, seed=9, rules=rules)
    serial = price_of_rules(p, tolerances=(0.03,), executor=SERIAL)
    seen: list[tuple[int, int]] = []
    with ThreadPoolExecutor(2) as pool:
        fanned = price_of_rules(
            p, tolerances=(0.03,), executor=pool, progress=lambda d, t: seen.append((d, t))
        )
    assert fanned == serial and seen[-1] == (3, 3)


# -- the Dask executor (slow: starts a cluster) -----------------------------------------------


@pytest.mark.slow
def test_analyses_on_a_dask_local_cluster_equal_serial() -> None:
    distributed = pytest.importorskip("distributed")
    p = tiny(n=9, seed=6, rules=(PassMark(min_outcome=40.0),))
    base = solve(p)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pool = client.get_executor()
        ex = explain(p, base, executor=pool)
        f = frontier(p, executor=pool)
        r = robustness(p, ScoreNoise(3.0, 5.0), samples=6, seed=2, executor=pool)
        q = price_of_rules(p, rules=[0], executor=pool)
    assert ex.items == explain(p, base, executor=SERIAL).items
    assert [_awards(x.allocation) for x in f.points] == [
        _awards(x.allocation) for x in frontier(p, executor=SERIAL).points
    ]
    assert (
        r.funded_sets == robustness(p, ScoreNoise(3.0, 5.0), samples=6, seed=2, executor=SERIAL).funded_sets
    )
    assert q == price_of_rules(p, rules=[0], executor=SERIAL)


def test_chunks_split_contiguously_and_completely() -> None:
    for n, parts in itertools.product(range(0, 9), range(1, 5)):
        items = list(range(n))
        out = chunks(items, parts)
        assert [x for c in out for x in c] == items and all(out) and len(out) <= parts


@pytest.mark.parametrize(
    ("call", "where"),
    [
        (
            lambda p: explain(p, solve(p), applications=["ZZ"]),
            r"explain\.applications\[0\]: unknown application 'ZZ'",
        ),
        (lambda p: robustness(p, samples=0), r"robustness\.samples: must be a whole number >= 1"),
        (lambda p: ScoreNoise(panel_sd=-1.0), r"ScoreNoise\.panel_sd: must be a finite number >= 0"),
        (lambda p: frontier(p, method="x"), r"frontier\.method: must be 'weights' or 'epsilon'"),
        (lambda p: frontier(p, method="epsilon", steps=0), r"frontier\.steps: must be a whole number >= 2"),
    ],
    ids=[
        "explain-unknown-application",
        "robustness-samples",
        "noise-sd",
        "frontier-method",
        "frontier-steps",
    ],
)
def test_analysis_names_a_bad_argument(call: Any, where: str) -> None:
    with pytest.raises(InvalidProblemError, match=where):
        call(tiny(n=6))
