"""`solve()` as a whole: determinism, immutability, JSON round trip, time limits,
infeasibility reports, and the accounting of the result."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import allocate
from allocate import (
    Allocation,
    Application,
    Budget,
    ClientGroup,
    Coverage,
    District,
    Exclusive,
    InvalidProblemError,
    Lock,
    OrganisationCap,
    Problem,
    SolverOptions,
    Variant,
    Weights,
    solve,
    verify,
)
from brute import Checker, brute_force
from strategies import large_problem

BACKENDS = allocate.BACKENDS


def ties_problem(n: int = 24) -> Problem:
    """Many identical bids (same cost, same scores) in several districts and groups: many optimal
    allocations, so a backend's tie-breaking must be deterministic for identical results."""
    apps = []
    for i in range(n):
        apps.append(
            Application(
                id=f"A{i:02d}",
                organisation=f"O{i % 5}",
                client_groups=(("carers", "older")[i % 2],),
                districts=(("H", "R", "W")[i % 3],),
                cost=250_000,
                outcome_score=60.0,
                social_scores=(3.0,) * 6,
                variants=(Variant(id=f"A{i:02d}v", cost=125_000, outcome_score=30.0),) if i % 4 == 0 else (),
            )
        )
    return Problem(
        applications=tuple(apps),
        districts=(
            District(id="H", population=10),
            District(id="R", population=20),
            District(id="W", population=30),
        ),
        client_groups=(ClientGroup(id="carers"), ClientGroup(id="older")),
        budget=Budget(total=2_000_000),
        rules=(Coverage(over="district", min_count=2), OrganisationCap(max_awards=2)),
    )


def infeasible_problem() -> Problem:
    """Budget £10; A (£20) is locked in; an unrelated Exclusive rule plays no part."""
    apps = (
        Application(
            id="A", organisation="O1", client_groups=("g",), districts=("H",), cost=2000, outcome_score=80
        ),
        Application(
            id="B", organisation="O2", client_groups=("g",), districts=("R",), cost=500, outcome_score=70
        ),
        Application(
            id="C", organisation="O3", client_groups=("g",), districts=("R",), cost=500, outcome_score=60
        ),
    )
    return Problem(
        applications=apps,
        districts=(District(id="H", population=1), District(id="R", population=1)),
        client_groups=(ClientGroup(id="g"),),
        budget=Budget(total=1000),
        rules=(Exclusive(applications=("B", "C")), Lock(application="A")),
    )


def knapsack(n: int = 300, seed: int = 0) -> Problem:
    """A hard round: near-equal scores (value almost proportional to cost: a strongly correlated
    knapsack), share and count rules. Solvers need well over 50 ms to prove optimality."""
    rng = np.random.default_rng(seed)
    apps = tuple(
        Application(
            id=f"A{i}",
            organisation=f"O{i % 40}",
            client_groups=(f"g{i % 3}",),
            districts=(f"d{i % 4}",),
            cost=int(rng.integers(100_000, 1_000_000)),
            outcome_score=float(rng.uniform(60, 61)),
            social_scores=tuple(float(x) for x in rng.uniform(0, 5, 6)),
        )
        for i in range(n)
    )
    return Problem(
        applications=apps,
        districts=tuple(District(id=f"d{k}", population=1000 * (k + 1)) for k in range(4)),
        client_groups=tuple(ClientGroup(id=f"g{k}") for k in range(3)),
        budget=Budget(total=sum(a.cost for a in apps) // 2),
        rules=(
            Coverage(over="district", min_share=0.2),
            OrganisationCap(max_awards=3),
            Coverage(over="client_group", max_share=0.36),
        ),
        weights=Weights(value_form="score_sum"),
    )


def awards(a: Allocation) -> list[tuple[str, str | None, int]]:
    return [(w.application, w.variant, w.amount) for w in a.awards]


# --------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("backend", BACKENDS)
def test_same_input_same_answer(backend: str) -> None:
    for problem in (ties_problem(), large_problem(3, 40)):
        first = solve(problem, backend)
        second = solve(problem.model_copy(deep=True), backend)
        assert first.status == second.status == "optimal"
        assert awards(first) == awards(second)
        assert first.fingerprint == second.fingerprint
        # Everything but the wall-clock time is identical.
        d1, d2 = first.to_dict(), second.to_dict()
        for d in (d1, d2):
            del d["solver"]["seconds"]
        assert d1 == d2


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_input_from_a_dict_same_answer(backend: str) -> None:
    problem = ties_problem()
    a = solve(problem, backend)
    b = solve(problem.model_dump(mode="json"), backend)
    assert awards(a) == awards(b) and a.fingerprint == b.fingerprint


def test_fingerprint_tracks_inputs_and_settings() -> None:
    problem = ties_problem()
    base = solve(problem, "highs").fingerprint
    assert solve(problem, "highs", verbose=False).fingerprint == base
    assert solve(problem, "highs", seed=1).fingerprint != base
    assert solve(problem, "highs", time_limit=100.0).fingerprint != base
    assert solve(problem, "cpsat").fingerprint != base
    assert solve(problem, "highs", weights=Weights(social_value_share=0.5)).fingerprint != base
    assert solve(problem.replace(budget=Budget(total=2_000_001)), "highs").fingerprint != base
    assert len(base) == 64 and int(base, 16) >= 0


# --------------------------------------------------------------------------- immutability
@pytest.mark.parametrize("backend", BACKENDS)
def test_nothing_passed_in_is_mutated(backend: str) -> None:
    for problem in (ties_problem(), infeasible_problem()):
        data = problem.model_dump(mode="json")
        data_before = copy.deepcopy(data)
        problem_before = problem.model_dump()
        weights = Weights(social_value_share=0.3)
        weights_before = weights.model_dump()
        options = SolverOptions(seed=2)
        options_before = options.model_dump()
        compiled = allocate.compile_problem(problem)
        arrays_before = {
            "A": compiled.A.copy(),
            "row_lo": compiled.row_lo.copy(),
            "row_hi": compiled.row_hi.copy(),
            "var_ub": compiled.var_ub.copy(),
            "cost": compiled.cost.copy(),
        }
        labels_before = compiled.row_labels

        solve(data, backend, weights=weights, options=options)
        solve(problem, backend, weights=weights, options=options, compiled=compiled)

        assert data == data_before
        assert problem.model_dump() == problem_before
        assert weights.model_dump() == weights_before and options.model_dump() == options_before
        assert compiled.row_labels == labels_before
        for name, before in arrays_before.items():
            after = getattr(compiled, name)
            if name == "A":
                assert (after != before).nnz == 0 and after.shape == before.shape
            else:
                assert np.array_equal(after, before), name


def test_models_are_immutable() -> None:
    problem = ties_problem()
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        problem.budget = Budget(total=1)  # type: ignore[misc]
    a = solve(problem, "highs")
    with pytest.raises(Exception):  # noqa: B017
        a.value = 0.0  # type: ignore[misc]


# --------------------------------------------------------------------------- JSON
@pytest.mark.parametrize("backend", BACKENDS)
def test_allocation_json_round_trip(backend: str) -> None:
    for problem in (ties_problem(), large_problem(5, 30), infeasible_problem()):
        a = solve(problem, backend)
        back = Allocation.from_json(a.to_json())
        assert back == a
        assert Allocation.from_dict(a.to_dict()) == a
        assert Allocation.from_json(a.to_json(indent=None)) == a


def test_time_limited_allocation_json_round_trip() -> None:
    a = solve(knapsack(), "highs", time_limit=0.05)
    assert Allocation.from_json(a.to_json()) == a


# --------------------------------------------------------------------------- time limits
@pytest.mark.parametrize("limit", [0.01, 0.2])
@pytest.mark.parametrize("backend", BACKENDS)
def test_time_limit(backend: str, limit: float) -> None:
    """A hard round with a tiny time limit: optimal, feasible (with a gap) or no solution, sensibly reported."""
    problem = knapsack()
    start = time.perf_counter()
    a = solve(problem, backend, time_limit=limit, diagnose=False)
    elapsed = time.perf_counter() - start
    assert elapsed < limit + 2.0  # the whole call, compile and verification included
    assert a.status in ("optimal", "feasible", "no_solution"), a.status
    if a.status == "no_solution":
        assert not a.awards and not a.verified and a.value == 0.0
        return
    assert a.verified and verify(problem, [(w.application, w.variant) for w in a.awards]).ok
    if a.bound is None:
        # Stopped before the solver had any real bound: no gap is claimed.
        assert a.status == "feasible" and a.gap is None
        return
    assert a.gap is not None
    assert math.isfinite(a.bound) and a.bound >= a.value - 1e-6 * max(1.0, abs(a.value))
    assert a.gap == pytest.approx(allocate.engine.backends.base.relative_gap(a.value, a.bound))
    if a.status == "optimal":
        assert a.gap <= 1e-6
    else:
        assert 0.0 <= a.gap <= 1.0
        # A gap of 100% means the "bound" is a solver's stand-in for infinity, not a bound.
        assert a.bound < 1e15, f"bound {a.bound} is not a real bound"


@pytest.mark.parametrize("backend", BACKENDS)
def test_relative_gap_option(backend: str) -> None:
    """With a 5% gap allowed, "optimal" means within 5% of the bound."""
    problem = knapsack(120, seed=1)
    a = solve(problem, backend, relative_gap=0.05, time_limit=20.0, diagnose=False)
    assert a.status == "optimal"
    assert a.gap is not None and a.gap <= 0.05 + 1e-9
    assert a.bound is not None and a.bound >= a.value


# --------------------------------------------------------------------------- infeasibility
@pytest.mark.parametrize("backend", BACKENDS)
def test_infeasible_names_the_clashing_rows(backend: str) -> None:
    a = solve(infeasible_problem(), backend)
    assert a.status == "infeasible"
    assert set(a.conflict) == {"Budget[total]", "Lock[fund A]"}
    assert not any("Exclusive" in c for c in a.conflict)
    assert "Lock[fund A]" in a.message and not a.awards and a.total == 0 and not a.verified


@pytest.mark.parametrize("backend", BACKENDS)
def test_infeasible_coverage_conflict(backend: str) -> None:
    """R must get £8; only B and C (£5 each) serve R and they are exclusive: the coverage row and
    the exclusive row clash, whatever the budget (the Lock is dropped)."""
    problem = infeasible_problem()
    problem = problem.replace(
        rules=(Exclusive(applications=("B", "C")), Coverage(over="district", key="R", min_amount=800)),
        budget=Budget(total=100_000),
    )
    a = solve(problem, backend)
    assert a.status == "infeasible"
    assert set(a.conflict) == {"Exclusive[B,C]", "Coverage.min_amount[district=R]"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_infeasible_without_diagnosis(backend: str) -> None:
    a = solve(infeasible_problem(), backend, diagnose=False)
    assert a.status == "infeasible" and a.conflict == ()


def test_infeasible_conflict_rows_alone_are_infeasible() -> None:
    """Dropping every rule the conflict does not name keeps the problem infeasible (brute force)."""
    problem = infeasible_problem()
    a = solve(problem, "highs")
    kept = tuple(r for r in problem.rules if r.label in a.conflict)
    assert brute_force(problem.replace(rules=kept)).value is None


# --------------------------------------------------------------------------- accounting
@pytest.mark.parametrize("backend", BACKENDS)
def test_value_split_and_exact_totals(backend: str) -> None:
    base = large_problem(7, 45)
    problem = base.replace(budget=Budget(total=base.budget.total), weights=Weights(social_value_share=0.3))
    a = solve(problem, backend)
    assert a.status == "optimal"
    assert a.value == pytest.approx(a.value_outcome + a.value_social, rel=1e-12)
    assert a.value == pytest.approx(math.fsum(w.value for w in a.awards), rel=1e-9)
    assert a.value_outcome == pytest.approx(math.fsum(w.value_outcome for w in a.awards), rel=1e-9)
    assert a.value_social == pytest.approx(math.fsum(w.value_social for w in a.awards), rel=1e-9)
    assert a.value_social > 0 and a.value_outcome > 0
    assert type(a.total) is int and a.total == sum(w.amount for w in a.awards) <= problem.budget.total
    for w in a.awards:
        assert type(w.amount) is int and all(type(p) is int for p in w.profile) and sum(w.profile) == w.amount
    ck = Checker(problem)
    vo, vs = ck.value([(w.application, w.variant) for w in a.awards])
    assert a.value_outcome == pytest.approx(vo, rel=1e-9) and a.value_social == pytest.approx(vs, rel=1e-9)
    budget = next(r for r in a.rules_report if r.label == "Budget[total]")
    assert budget.achieved == a.total and budget.limit == problem.budget.total
    assert budget.slack == problem.budget.total - a.total


@pytest.mark.parametrize("backend", BACKENDS)
def test_yearly_totals_are_exact(backend: str) -> None:
    base = large_problem(1, 40)
    t = base.budget.total
    per_year = (t // 2, t // 3, t - t // 2 - t // 3)  # year 1 is generous, years 2-3 bind
    problem = base.replace(budget=Budget(total=t, per_year=per_year))
    a = solve(problem, backend)
    assert a.status == "optimal"
    for y, limit in enumerate(per_year):
        spent = sum(w.profile[y] for w in a.awards)
        row = next(r for r in a.rules_report if r.label == f"Budget[year={y + 1}]")
        assert row.achieved == spent and spent <= limit


@pytest.mark.parametrize("social", [0.0, 0.1, 0.3, 1.0])
def test_social_share_moves_value_between_parts(social: float) -> None:
    """Every option's social scores are 3/5 = 0.6 of the scale, so the social part of the value
    is exactly share × 0.6 × pounds awarded; the outcome part is (1 - share) × score/100 × pounds."""
    problem = ties_problem()
    a = solve(problem, "highs", weights=Weights(social_value_share=social))
    assert a.status == "optimal"
    assert a.value_social == pytest.approx(social * 0.6 * a.total / 100, rel=1e-9, abs=1e-9)
    outcome = {(x.id, None): x.outcome_score for x in problem.applications} | {
        (x.id, v.id): v.outcome_score for x in problem.applications for v in x.variants
    }
    expected = sum(
        (1 - social) * outcome[(w.application, w.variant)] / 100 * w.amount / 100 for w in a.awards
    )
    assert a.value_outcome == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_compiled_model_is_reused_for_what_ifs() -> None:
    problem = large_problem(2, 30)
    compiled = allocate.compile_problem(problem)
    for share in (0.0, 0.5, 1.0):
        w = Weights(social_value_share=share, value_form=problem.weights.value_form)
        a = solve(problem, "highs", compiled=compiled, weights=w)
        b = solve(problem, "highs", weights=w)
        assert a.value == pytest.approx(b.value, rel=1e-9) and a.weights == w


HINT_SCRIPT = """
import sys
import numpy as np
sys.path.insert(0, {tests!r})
import allocate
from strategies import large_problem

backend = {backend!r}
problem = large_problem(4, 35)
plain = allocate.solve(problem, backend)
compiled = allocate.compile_problem(problem)
# Warm starts: the optimum itself, and funding nothing (a 0/1 start the solver may reject or repair).
best = np.zeros(compiled.n_vars)
index = {{c.id: j for j, c in enumerate(compiled.candidates)}}
for w in plain.awards:
    best[index[w.application if w.variant is None else w.application + "/" + w.variant]] = 1.0
for hint in (best, np.zeros(compiled.n_vars)):
    before = hint.copy()
    hinted = allocate.solve(problem, backend, compiled=compiled, hint=hint)
    assert abs(hinted.value - plain.value) <= 1e-9 * max(1.0, plain.value), (hinted.value, plain.value)
    assert np.array_equal(hint, before), "the hint was modified"
print("ok")
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_hint_does_not_change_the_optimum(backend: str) -> None:
    """A warm start changes speed, never the answer, and is not modified.

    Run in a child process: a solver crash (segmentation fault) must fail this test, not
    end the whole test session.
    """
    script = HINT_SCRIPT.format(tests=str(Path(__file__).parent), backend=backend)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "ok" in done.stdout, (
        f"exit code {done.returncode} (-11 is a segmentation fault)\n{done.stderr[-2000:]}"
    )


# --------------------------------------------------------------------------- options given twice
@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"time_limit": -1.0}, id="negative-time-limit"),
        pytest.param({"threads": 0}, id="zero-threads"),
        pytest.param({"relative_gap": 5.0}, id="gap-above-1"),
        pytest.param({"speed": "ludicrous"}, id="unknown-option"),
    ],
)
def test_options_keywords_on_top_of_solver_options_are_validated(changes: dict[str, Any]) -> None:
    """solve(options=SolverOptions(...), time_limit=-1) must be rejected like SolverOptions(time_limit=-1)."""
    problem = ties_problem(6)
    with pytest.raises(InvalidProblemError) as info:
        solve(problem, "highs", options=SolverOptions(seed=1), **changes)
    assert next(iter(changes)) in str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_limit_bounds_the_diagnosis_of_an_infeasible_round(backend: str) -> None:
    """Infeasible: four districts each need 30% of the money, and something must be funded.
    The conflict search shares the time limit with the solve."""
    problem = knapsack(120).replace(
        rules=(Coverage(over="district", min_share=0.3), allocate.MinOrganisations(count=1))
    )
    start = time.perf_counter()
    a = solve(problem, backend, time_limit=1.0)
    assert time.perf_counter() - start < 1.0 + 2.0
    assert a.status in ("infeasible", "no_solution")
    if a.status == "infeasible" and "Not reduced" not in a.message:
        assert a.conflict  # reduced within the limit: an irreducible clash is named


# --------------------------------------------------------------------------- backend registry
def test_import_allocate_loads_no_solver_library() -> None:
    code = "import allocate, sys; print([m for m in ('pulp', 'ortools', 'highspy') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_available(backend: str) -> None:
    from allocate.engine.backends import available, get_backend

    assert available(backend)
    assert get_backend(backend).name == backend


def test_backend_with_missing_package_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from allocate import SolverError
    from allocate.engine.backends import available, get_backend

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "highspy" else real(name, *a)
    )
    assert not available("highs")
    with pytest.raises(SolverError, match="'highspy', which is not installed"):
        get_backend("highs")
    with pytest.raises(SolverError, match="unknown backend 'scip'"):
        available("scip")
