"""The analysis layer: sweep, frontier, explain, diagnose, compare, price_of_rules, robustness.

Every check is against independent `solve` calls (or brute force) on tiny hand-built rounds.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from allocate import (
    BACKENDS,
    Application,
    Budget,
    ClientGroup,
    Coverage,
    District,
    EqualityGap,
    Lock,
    MinOrganisations,
    NoNewGaps,
    OrganisationCap,
    Problem,
    ScoreNoise,
    Weights,
    compare,
    compile_problem,
    diagnose,
    explain,
    frontier,
    price_of_rules,
    robustness,
    solve,
    sweep,
)
from allocate.analysis.diagnose import Relaxation
from allocate.analysis.robustness import draw
from allocate.domain.parts import as_weights
from allocate.engine.backends import get_backend
from allocate.engine.backends.base import SolverOptions, solve_once
from allocate.engine.compile import TOTAL_RULE
from allocate.engine.conflict import restrict

TOL = 1e-6
SHARES = [0.0, 0.15, 0.3, 0.5, 0.7, 0.85, 1.0]


def tiny(n: int = 10, seed: int = 7, rules: tuple = (), budget_share: float = 0.45) -> Problem:
    """n bids with irregular costs and scores (so optima are unique), one district each."""
    rng = np.random.default_rng(seed)
    districts = ("H", "R", "W")
    apps = []
    for i in range(n):
        apps.append(
            Application(
                id=f"A{i:02d}",
                organisation=f"O{i % 4}",
                client_groups=(("carers", "older")[i % 2],),
                districts=(districts[i % 3],),
                cost=int(rng.integers(50, 400)) * 1000 + int(rng.integers(1, 999)),
                outcome_score=float(np.round(rng.uniform(20, 80), 3)),
                social_scores=tuple(float(np.round(v, 3)) for v in rng.uniform(0.5, 4.5, 6)),
                panel=f"P{i % 3}",
                continues_service=i in (1, 4),
            )
        )
    total = int(budget_share * sum(a.cost for a in apps))
    return Problem(
        applications=tuple(apps),
        districts=(
            District(id="H", population=10, need=1.0),
            District(id="R", population=20, need=1.5),
            District(id="W", population=30, need=2.0),
        ),
        client_groups=(ClientGroup(id="carers"), ClientGroup(id="older")),
        budget=Budget(total=total),
        rules=rules,
    )


def value_at(problem: Problem, share: float) -> float:
    a = solve(problem, weights=as_weights(problem, share))
    assert a.status == "optimal"
    return a.value


def brute_points(problem: Problem) -> list[tuple[float, float]]:
    """(O, S) of every subset within the budget (budget is the only rule)."""
    model = compile_problem(problem)
    w = problem.weights
    O_ = model.objective(w.model_copy(update={"social_value_share": 0.0}))[0][: model.n]
    S_ = model.objective(w.model_copy(update={"social_value_share": 1.0}))[1][: model.n]
    out = []
    for bits in itertools.product((0, 1), repeat=model.n):
        x = np.array(bits, dtype=float)
        if model.cost @ x <= problem.budget.total:
            out.append((float(O_ @ x), float(S_ @ x)))
    return out


# -- sweep --------------------------------------------------------------------------------


def _check_sweep(problem: Problem, allocations: list) -> None:
    assert len(allocations) == len(SHARES)
    for share, a in zip(SHARES, allocations, strict=True):
        assert a.weights.social_value_share == share
        assert a.value == pytest.approx(value_at(problem, share), rel=1e-9, abs=TOL)


def test_sweep_thread_pool_matches_independent_solves() -> None:
    p = tiny(rules=(Coverage(over="district", min_count=1),))
    with ThreadPoolExecutor(2) as pool:
        _check_sweep(p, sweep(p, SHARES, executor=pool, batch_size=2))


def test_sweep_default_process_pool_matches_independent_solves() -> None:
    p = tiny(rules=(Coverage(over="district", min_count=1),))
    progress: list[tuple[int, int]] = []
    out = sweep(p, SHARES, progress=lambda d, t: progress.append((d, t)))
    _check_sweep(p, out)
    assert progress[-1] == (len(SHARES), len(SHARES))


def test_sweep_with_dask_executor() -> None:
    distributed = pytest.importorskip("distributed")
    p = tiny()
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        out = sweep(p, SHARES, executor=client.get_executor(), batch_size=3)
    _check_sweep(p, out)


# -- frontier -----------------------------------------------------------------------------


def test_frontier_points_optimal_inside_intervals_and_change_at_breakpoints() -> None:
    p = tiny(n=12, seed=3)
    f = frontier(p)
    assert len(f.points) >= 2
    assert f.points[0].share_low == 0.0 and f.points[-1].share_high == 1.0
    for point in f.points:
        lo, hi = point.share_low, point.share_high
        assert lo is not None and hi is not None and lo < hi
        for t in (0.1, 0.5, 0.9):
            w = lo + t * (hi - lo)
            assert (1 - w) * point.outcome + w * point.social == pytest.approx(value_at(p, w), rel=1e-9)
    for left, right in itertools.pairwise(f.points):
        b = left.share_high
        assert b == right.share_low and b in f.breakpoints
        assert left.allocation.funded != right.allocation.funded
        # Both optimal (tied) at the breakpoint, and each strictly better on its own side.
        at_b = value_at(p, b)
        for pt in (left, right):
            assert (1 - b) * pt.outcome + b * pt.social == pytest.approx(at_b, rel=1e-9)
        for w, better, worse in ((b - 1e-3, left, right), (b + 1e-3, right, left)):
            assert (1 - w) * better.outcome + w * better.social > (1 - w) * worse.outcome + w * worse.social


def test_frontier_epsilon_points_are_non_dominated() -> None:
    p = tiny(n=10, seed=5)
    f = frontier(p, method="epsilon", steps=8)
    assert f.points
    every = brute_points(p)
    for pt in f.points:
        assert pt.allocation.status == "optimal"
        dominated = [
            (o, s)
            for o, s in every
            if o >= pt.outcome - TOL
            and s >= pt.social - TOL
            and (o > pt.outcome + TOL or s > pt.social + TOL)
        ]
        assert not dominated, (pt.outcome, pt.social, dominated[:3])


# -- explain ------------------------------------------------------------------------------


def _rescored(problem: Problem, app_id: str, score: float) -> Problem:
    apps = tuple(
        a.model_copy(update={"outcome_score": score}) if a.id == app_id else a for a in problem.applications
    )
    return problem.replace(applications=apps)


def test_explain_margins_are_exact() -> None:
    p = tiny(n=10, seed=11, rules=(Coverage(over="district", min_count=1),))
    base = solve(p)
    ex = explain(p, base)
    hair = 1e-3
    checked_in = checked_out = 0
    for e in ex.items:
        if e.score_points is None:
            continue
        score = p.application(e.application).outcome_score
        if not e.funded and score + e.score_points + hair <= p.scale.outcome_max:
            assert e.application in solve(_rescored(p, e.application, score + e.score_points + hair)).funded
            if e.score_points > hair:
                assert (
                    e.application
                    not in solve(_rescored(p, e.application, score + e.score_points - hair)).funded
                )
            checked_out += 1
        elif e.funded and score - e.score_points - hair >= 0:
            if e.score_points > hair:
                assert (
                    e.application in solve(_rescored(p, e.application, score - e.score_points + hair)).funded
                )
            assert (
                e.application not in solve(_rescored(p, e.application, score - e.score_points - hair)).funded
            )
            checked_in += 1
    assert checked_in >= 2 and checked_out >= 2


# -- diagnose -----------------------------------------------------------------------------


def _feasible(model, keep: np.ndarray) -> bool:
    raw = solve_once(get_backend("highs"), restrict(model, keep), np.zeros(model.n_vars), SolverOptions())
    return raw.status != "infeasible"


def test_diagnose_names_an_irreducible_set_and_a_working_relaxation() -> None:
    base = tiny(n=9, seed=2, budget_share=0.4)
    total = base.budget.total
    rules = (
        Coverage(over="district", key="H", min_amount=int(0.6 * total)),
        Coverage(over="district", key="W", min_amount=int(0.6 * total)),
        OrganisationCap(max_awards=3),  # not part of the clash
    )
    p = base.replace(rules=rules)
    d = diagnose(p)
    assert not d.feasible and d.rows and d.relaxation
    assert "OrganisationCap" not in " ".join(d.rules)
    model = compile_problem(p)
    labels = list(model.row_labels)
    named = np.isin(labels, d.rows)
    structural = model.row_rule == TOTAL_RULE
    assert not _feasible(model, structural | named)
    assert not _feasible(model, np.ones(len(labels), dtype=bool))
    for lbl in d.rows:
        drop = np.array([x == lbl for x in labels])
        assert _feasible(model, structural | (named & ~drop)), lbl
        assert _feasible(model, ~drop), lbl
    relaxed_lo, relaxed_hi = model.row_lo.copy(), model.row_hi.copy()
    for r in d.relaxation:
        i = labels.index(r.label)
        if r.sense == ">=":
            relaxed_lo[i] = r.relaxed_limit
        else:
            relaxed_hi[i] = r.relaxed_limit
    import dataclasses

    relaxed = dataclasses.replace(model, row_lo=relaxed_lo, row_hi=relaxed_hi)
    assert _feasible(relaxed, np.ones(len(labels), dtype=bool))
    assert "cannot all hold" in d.text()


def _two_bids(first: dict, rules: tuple) -> Problem:
    """Two £100 bids; `first` overrides fields of bid A (e.g. its organisation or district)."""
    apps = (
        Application(
            **{
                "id": "A",
                "organisation": "O1",
                "client_groups": ("carers",),
                "districts": ("H",),
                "cost": 10_000,
                "outcome_score": 50.0,
            }
            | first
        ),
        Application(
            id="B",
            organisation="O2",
            client_groups=("carers",),
            districts=("W",),
            cost=10_000,
            outcome_score=40.0,
        ),
    )
    districts = {d for a in apps for d in a.districts}
    return Problem(
        applications=apps,
        districts=tuple(District(id=d, population=10) for d in sorted(districts)),
        client_groups=(ClientGroup(id="carers"),),
        budget=Budget(total=100_000),
        rules=rules,
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_diagnose_weighs_and_words_an_organisation_cap_in_pounds_whatever_the_name(backend: str) -> None:
    """'Citizens Advice Accounts' contains 'count': its cap is still money. Raising it by 20p
    (weight £0.20) beats dropping the lock (one award); as awards it would have cost 20."""
    org = "Citizens Advice Accounts"
    p = _two_bids(
        {"organisation": org, "cost": 10_020},
        (Lock(application="A"), OrganisationCap(organisation=org, max_amount=10_000)),
    )
    d = diagnose(p, backend)
    cap = f"OrganisationCap.max_amount[{org}]"
    assert not d.feasible and set(d.rows) == {"Lock[fund A]", cap}
    assert d.relaxation == (Relaxation(cap, "<=", 10_000, 10_020, 20, "pence"),)
    assert d.relaxation[0].text() == f"raise {cap} from £100.00 to £100.20 (by £0.20)"
    alone = {r.label: r for r in d.alternatives}
    assert alone[cap].unit == "pence" and alone[cap].amount == 20
    assert alone["Lock[fund A]"].unit == "awards" and alone["Lock[fund A]"].text() == (
        "lower Lock[fund A] from 1 to 0 (by 1)"
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_diagnose_weighs_and_words_a_coverage_amount_in_pounds_whatever_the_district(backend: str) -> None:
    """'Lockerbie' contains 'Lock': its minimum amount is still money. Lowering it by 20p beats
    funding the excluded bid (one award)."""
    p = _two_bids(
        {"districts": ("Lockerbie",)},
        (Lock(application="A", fund=False), Coverage(over="district", key="Lockerbie", min_amount=20)),
    )
    d = diagnose(p, backend)
    cover = "Coverage.min_amount[district=Lockerbie]"
    assert not d.feasible and set(d.rows) == {"Lock[exclude A]", cover}
    assert d.relaxation == (Relaxation(cover, ">=", 20, 0, 20, "pence"),)
    assert d.relaxation[0].text() == f"lower {cover} from £0.20 to £0.00 (by £0.20)"
    assert {r.label: r.unit for r in d.alternatives} == {cover: "pence", "Lock[exclude A]": "awards"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_diagnose_words_share_rows_as_attributed_money_and_organisations_as_counts(backend: str) -> None:
    """Two organisations must be funded, but O2 may have at most 40% of the money (it would have 50%)."""
    p = _two_bids({}, (MinOrganisations(count=2), OrganisationCap(organisation="O2", max_share=0.4)))
    d = diagnose(p, backend)
    share = "OrganisationCap.max_share[O2]"
    assert not d.feasible and set(d.rows) == {"MinOrganisations", share}
    alone = {r.label: r for r in d.alternatives}
    assert alone["MinOrganisations"].unit == "organisations"
    assert alone["MinOrganisations"].text() == "lower MinOrganisations from 2 to 1 (by 1)"
    assert alone[share].unit == "pence" and alone[share].share and alone[share].amount == 2_000
    assert alone[share].text() == f"let {share} miss by £20.00 of attributed money"


# -- compare ------------------------------------------------------------------------------


def test_compare_reports_entered_left_and_money_moved() -> None:
    p = tiny(n=10, seed=4)
    a = solve(p, weights=as_weights(p, 0.0))
    b = solve(p, weights=as_weights(p, 1.0))
    assert a.funded != b.funded
    c = compare(a, b, p)
    assert set(c.entered) == b.funded - a.funded
    assert set(c.left) == a.funded - b.funded
    assert c.total_change == b.total - a.total
    assert c.value_change == pytest.approx(b.value - a.value)

    def by_district(alloc) -> dict[str, int]:
        out = {d.id: 0 for d in p.districts}
        for aw in alloc.awards:
            out[p.application(aw.application).districts[0]] += aw.amount
        return out

    da, db = by_district(a), by_district(b)
    for k in da:
        assert c.money_by_district[k] == pytest.approx(db[k] - da[k])
    assert sum(c.money_by_district.values()) == pytest.approx(c.total_change)
    assert "enter" in c.summary()


# -- price_of_rules -----------------------------------------------------------------------


def test_price_of_rules_equals_independent_resolves() -> None:
    rules = (
        EqualityGap(over="district", basis="need", tolerance=0.08),
        Coverage(over="client_group", key="carers", min_share=0.4),
        OrganisationCap(max_awards=2),
        MinOrganisations(count=3),
        NoNewGaps(),
    )
    p = tiny(n=12, seed=9, rules=rules)
    base = solve(p).value
    prices = price_of_rules(p, tolerances=(0.03, 0.15))
    assert [(q.index, q.tolerance) for q in prices] == [
        (0, None),
        (0, 0.03),
        (0, 0.15),
        (1, None),
        (2, None),
        (3, None),
        (4, None),
    ]
    for q in prices:
        rest = p.rules[: q.index] + p.rules[q.index + 1 :]
        without = solve(p.replace(rules=rest))
        assert q.value_without == pytest.approx(without.value, rel=1e-9)
        if q.tolerance is None:
            assert q.value_with == pytest.approx(base, rel=1e-9)
        else:
            band = p.rules[0].model_copy(update={"tolerance": q.tolerance})
            at = solve(p.replace(rules=(band, *p.rules[1:])), diagnose=False)
            if at.status == "infeasible":
                assert q.value_with is None and q.price is None
                continue
            assert q.value_with == pytest.approx(at.value, rel=1e-9)
        assert q.price is not None and q.price >= 0
        assert q.price == pytest.approx(q.value_without - q.value_with, abs=1e-6)
        assert q.text.startswith("The ") and "% of value" in q.text
    assert any(q.price and q.price > 0 for q in prices)


def test_price_of_rules_selected_rules_only() -> None:
    p = tiny(n=8, seed=1, rules=(OrganisationCap(max_awards=1), Coverage(over="district", min_count=1)))
    prices = price_of_rules(p, rules=[1])
    assert [q.index for q in prices] == [1]


# -- robustness ---------------------------------------------------------------------------


def test_robustness_is_deterministic_and_probabilities_are_valid() -> None:
    p = tiny(n=8, seed=6, rules=(Coverage(over="district", min_count=1),))
    noise = ScoreNoise(panel_sd=5.0, score_sd=8.0, social_sd=0.3)
    r1 = robustness(p, noise, samples=12, seed=42)
    with ThreadPoolExecutor(2) as pool:
        r2 = robustness(p, noise, samples=12, seed=42, executor=pool)
    assert r1.funded_sets == r2.funded_sets and r1.probability == r2.probability
    assert r1.mean_jaccard == r2.mean_jaccard and r1.same_as_baseline == r2.same_as_baseline
    assert all(0.0 <= v <= 1.0 for v in r1.probability.values())
    assert 0.0 <= r1.mean_jaccard <= 1.0 and 0.0 <= r1.same_as_baseline <= 1.0
    assert r1.solved == 12 and set(r1.probability) == {a.id for a in p.applications}
    assert any(s != r1.baseline.funded for s in r1.funded_sets)  # the noise matters here
    assert "noisy re-scorings" in r1.text()


def test_robustness_without_noise_reproduces_the_baseline() -> None:
    p = tiny(n=8, seed=6)
    r = robustness(p, ScoreNoise(0.0, 0.0, 0.0), samples=4, seed=1)
    for app, prob in r.probability.items():
        assert prob == (1.0 if app in r.baseline.funded else 0.0)
    assert r.mean_jaccard == 1.0 and r.same_as_baseline == 1.0


def test_panel_bias_is_shared_within_a_panel() -> None:
    p = tiny(n=9, seed=6)
    (outcome, social), *_ = draw(p, ScoreNoise(panel_sd=3.0, score_sd=0.0), samples=2, seed=5)
    panels = [a.panel for a in p.applications]
    for a, b in itertools.combinations(range(len(panels)), 2):
        assert (outcome[a] == outcome[b]) == (panels[a] == panels[b])
    assert not social.any()


def test_robustness_weights_value_form_unchanged() -> None:
    p = tiny(n=6, seed=8).replace(weights=Weights(social_value_share=0.3))
    r = robustness(p, ScoreNoise(1.0, 1.0), samples=2, seed=0)
    assert r.baseline.weights.social_value_share == 0.3


def test_price_of_rules_names_an_unknown_rule_index() -> None:
    from allocate import InvalidProblemError, price_of_rules
    from allocate.scenarios import east_sussex_2011

    problem = east_sussex_2011()
    with pytest.raises(InvalidProblemError, match=r"rules\[99\]: rule index 99 is out of range"):
        price_of_rules(problem, rules=[99])
