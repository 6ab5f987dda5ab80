"""The constructed start (allocate.engine.construct), the whole-call time limit, and T kept as a variable."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings

import allocate.engine.backends.cpsat as cpsat
from allocate import compile_problem, solve, verify
from allocate.domain.errors import SolverError
from allocate.domain.model import Problem
from allocate.engine.backends.base import RawSolution
from allocate.engine.backends.highs import HighsSession
from allocate.engine.bound import budget_bound
from allocate.engine.compile import CompiledProblem
from allocate.engine.construct import construct
from allocate.engine.options import SolverOptions
from allocate.scenarios import east_sussex_2011, scaled
from brute import brute_force
from strategies import examples, problems

solve_module = importlib.import_module(
    "allocate.engine.solve"
)  # the package re-exports solve() under the same name
better_of = solve_module.better_of


def compiled(problem: Problem) -> tuple[CompiledProblem, np.ndarray]:
    """The problem's compiled model and its objective (outcome plus social value)."""
    model = compile_problem(problem)
    outcome, social = model.objective()
    return model, outcome + social


def awards_of(problem: Problem, x: np.ndarray) -> list[tuple[str, str | None]]:
    model = compile_problem(problem)
    return [
        (model.candidates[j].application.id, model.candidates[j].variant_id)
        for j in np.flatnonzero(x[: model.n] > 0.5)
    ]


@settings(max_examples=examples(150), deadline=None)
@given(problem=problems())
def test_a_constructed_start_meets_every_rule_and_never_beats_brute_force(problem: Problem) -> None:
    model, objective = compiled(problem)
    x = construct(model, objective)
    oracle = brute_force(problem)
    event("constructed" if x is not None else "greedy repair failed")
    if x is None:
        return  # solve then runs without a start
    check = verify(problem, awards_of(problem, x))
    assert check.ok, check.violations
    assert oracle.value is not None, "brute force found no allocation, but the start meets every rule"
    assert check.value <= oracle.value + 1e-6 * max(1.0, abs(oracle.value))


@settings(max_examples=examples(150), deadline=None)
@given(problem=problems())
def test_budget_bound_is_never_below_the_optimum(problem: Problem) -> None:
    model, objective = compiled(problem)
    bound = budget_bound(model, objective)
    assert bound is not None  # every round has a total budget row
    oracle = brute_force(problem)
    if oracle.value is not None:
        assert bound >= oracle.value


def test_east_sussex_start_is_verified_and_close_to_the_optimum() -> None:
    problem = east_sussex_2011()
    model, objective = compiled(problem)
    x = construct(model, objective)
    assert x is not None
    check = verify(problem, awards_of(problem, x))
    assert check.ok
    optimum = solve(problem).value
    assert 0.95 * optimum <= check.value <= optimum


def test_large_round_answers_with_the_start_when_time_runs_out() -> None:
    problem = scaled(5)
    model, objective = compiled(problem)
    start = construct(model, objective)
    assert start is not None
    a = solve(problem, compiled=model, time_limit=0.5, construct_start=True)
    assert a.status in ("feasible", "optimal") and a.verified
    assert a.value >= float(objective @ start) - 1e-6
    assert a.solver.extra["start_value"] == pytest.approx(float(objective @ start))


def test_time_limit_covers_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    real = solve_module.compile_problem

    def slow(problem: Problem):  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        return real(problem)

    monkeypatch.setattr(solve_module, "compile_problem", slow)
    a = solve(east_sussex_2011(), time_limit=0.2)
    assert a.status == "no_solution"
    assert "time limit" in a.solver.message


def test_options_left_since() -> None:
    options = SolverOptions(time_limit=10.0)
    left = options.left_since(time.perf_counter() - 4.0)
    assert left is not None and left.time_limit is not None and 5.0 < left.time_limit <= 6.0
    assert options.left_since(time.perf_counter() - 11.0) is None
    assert SolverOptions().left_since(0.0) == SolverOptions()


def _raw(status: str, x: np.ndarray | None, objective: float | None, bound: float | None) -> RawSolution:
    return RawSolution(status, x, objective, bound, solver="cpsat", version="", seconds=0.0)  # type: ignore[arg-type]


def test_better_of_keeps_the_better_answer_and_refuses_a_false_infeasible() -> None:
    objective = np.array([3.0, 2.0])
    start = np.array([1.0, 0.0])
    options = SolverOptions()
    with pytest.raises(SolverError, match="infeasible"):
        better_of(_raw("infeasible", None, None, None), start, objective, options)
    kept = better_of(_raw("no_solution", None, None, 4.0), start, objective, options)
    assert kept.status == "feasible" and kept.objective == 3.0 and kept.bound == 4.0
    tighter = better_of(_raw("no_solution", None, None, 4.0), start, objective, options, bound=3.5)
    assert tighter.bound == 3.5 and tighter.extra["bound_from"] == "budget"
    with pytest.raises(SolverError, match="bounded"):  # a bound below an allocation that meets every rule
        better_of(_raw("optimal", np.array([0.0, 1.0]), 2.0, 2.0), start, objective, options, bound=4.0)
    assert better_of(_raw("no_solution", None, None, 3.0), start, objective, options).status == "optimal"
    solver = better_of(_raw("feasible", np.array([1.0, 1.0]), 5.0, 6.0), start, objective, options)
    assert solver.objective == 5.0 and solver.extra["start_value"] == 3.0


@settings(max_examples=examples(60), deadline=None)
@given(problem=problems())
def test_cpsat_with_total_as_a_variable_matches_brute_force(problem: Problem) -> None:
    """Large rounds keep T as a variable (cpsat.SUBSTITUTE_MAX); small ones are forced to here."""
    old = cpsat.SUBSTITUTE_MAX
    cpsat.SUBSTITUTE_MAX = 0
    try:
        a = solve(problem, "cpsat")
    finally:
        cpsat.SUBSTITUTE_MAX = old
    oracle = brute_force(problem)
    if oracle.value is None:
        assert a.status == "infeasible"
    else:
        assert a.status == "optimal" and a.verified
        assert a.value == pytest.approx(oracle.value, rel=1e-6, abs=1e-6)


def test_a_start_the_verifier_rejects_is_dropped_for_the_solvers_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = east_sussex_2011()
    model = compile_problem(problem)
    bogus = np.ones(model.n_vars)  # every award: far over budget
    real = solve_module.solve_once

    def nothing_from_a_start(engine, model, objective, options, hint=None):  # type: ignore[no-untyped-def]
        if hint is not None:  # as if the solver stopped at once: the start is the answer
            return RawSolution("no_solution", None, None, None, solver=engine.name, version="", seconds=0.0)
        return real(engine, model, objective, options, hint)

    monkeypatch.setattr(solve_module, "construct", lambda *_: bogus)
    monkeypatch.setattr(solve_module, "solve_once", nothing_from_a_start)
    a = solve(problem, compiled=model, construct_start=True)
    assert a.status == "optimal" and a.verified
    assert a.value == pytest.approx(solve(problem, compiled=model, construct_start=False).value)


def test_highs_answer_is_its_own_allocation_not_the_start() -> None:
    """HiGHS 1.16 returned the start as its answer when presolve solved the MIP (regression)."""
    path = Path(__file__).parent / "data" / "regressions" / "highs_returns_the_start.json"
    problem = Problem.from_dict(json.loads(path.read_text())["problem"])
    model, objective = compiled(problem)
    start = construct(model, objective)
    assert start is not None
    raw = HighsSession(model).solve(objective, SolverOptions(), start)
    assert raw.x is not None and not np.array_equal(np.round(raw.x), start)
    optimum = solve(problem, "cpsat").value
    assert raw.status == "optimal" and raw.objective == pytest.approx(optimum, rel=1e-9)
    assert solve(problem, "highs", construct_start=True).value == pytest.approx(optimum, rel=1e-9)
