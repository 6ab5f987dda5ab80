"""Certified claims: a second backend confirms "optimal" and "infeasible", or raises."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

import allocate
from allocate import (
    Allocation,
    Application,
    Budget,
    CertificationError,
    ClientGroup,
    Coverage,
    District,
    InvalidProblemError,
    Lock,
    Problem,
    solve,
)
from allocate.engine.backends.base import RawSolution
from allocate.engine.certify import PARTNER, certify
from allocate.engine.compile import compile_problem

BACKENDS = allocate.BACKENDS
solve_module = importlib.import_module("allocate.engine.solve")  # `allocate.solve` is also the function


def small_round(*rules: Any) -> Problem:
    """Four bids, £1,000: the best is A+B+C (value 240 in score-sum form)."""
    apps = tuple(
        Application(
            id=k,
            organisation=f"O{i}",
            client_groups=("g",),
            districts=("H",) if i % 2 else ("R",),
            cost=cost,
            outcome_score=score,
        )
        for i, (k, cost, score) in enumerate(
            [("A", 40_000, 90), ("B", 30_000, 80), ("C", 30_000, 70), ("D", 20_000, 40)]
        )
    )
    return Problem(
        applications=apps,
        districts=(District(id="H", population=100), District(id="R", population=300)),
        client_groups=(ClientGroup(id="g"),),
        budget=Budget(total=100_000),
        rules=rules,
        weights=allocate.Weights(social_value_share=0.0, value_form="score_sum"),
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_optimal_claim_is_confirmed_by_the_partner(backend: str) -> None:
    a = solve(small_round(), backend, certify=True)
    assert a.status == "optimal" and a.value == pytest.approx(240.0)
    cert = a.certificate
    assert cert is not None and cert.confirmed
    assert cert.backend == PARTNER[backend] != backend
    assert cert.status == "optimal" and cert.value == pytest.approx(a.value)
    assert "Certified by" in a.message
    assert Allocation.from_json(a.to_json()) == a


@pytest.mark.parametrize("backend", BACKENDS)
def test_infeasible_claim_and_its_conflict_are_confirmed(backend: str) -> None:
    """H needs £500 (only B and D serve it), R £700 (only A and C): £1,200 of a £1,000 budget."""
    problem = small_round(
        Coverage(over="district", key="H", min_amount=50_000),
        Coverage(over="district", key="R", min_amount=70_000),
    )
    a = solve(problem, backend, certify=True)
    assert a.status == "infeasible" and a.conflict
    cert = a.certificate
    assert cert is not None and cert.confirmed and cert.status == "infeasible"
    assert "conflict alone is infeasible" in cert.note


@pytest.mark.parametrize("checker", [b for b in BACKENDS if b != "highs"])
def test_any_other_backend_can_check(checker: str) -> None:
    a = solve(small_round(), "highs", certify=checker)
    assert a.certificate is not None and a.certificate.backend == checker and a.certificate.confirmed


def test_certify_by_the_same_backend_is_refused() -> None:
    with pytest.raises(InvalidProblemError, match="certify"):
        solve(small_round(), "highs", certify="highs")
    with pytest.raises(InvalidProblemError, match="certify"):
        solve(small_round(), "highs", certify="gurobi")


def _lying(status: str, x: np.ndarray | None) -> Any:
    """A stand-in for solve_once that answers `status` with awards `x`, as a faulty solver would."""

    def fake(engine: Any, model: Any, objective: Any, options: Any, hint: Any = None) -> RawSolution:
        full = None if x is None else np.concatenate([x, np.zeros(model.n_vars - model.n)])
        obj = None if full is None else float(objective @ full)
        return RawSolution(status, full, obj, obj, engine.name, "fake", 0.0)  # type: ignore[arg-type]

    return fake


def test_a_low_optimal_claim_raises_with_both_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A solver that calls D alone optimal (value 40; A+B+C gives 240) is contradicted."""
    monkeypatch.setattr(solve_module, "solve_once", _lying("optimal", np.array([0.0, 0.0, 0.0, 1.0])))
    with pytest.raises(CertificationError) as info:
        solve(small_round(), "cpsat", certify="highs")
    assert "'cpsat' said optimal at value 40" in str(info.value)
    assert "highs" in info.value.check and "240" in info.value.check


def test_a_false_infeasible_claim_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(solve_module, "solve_once", _lying("infeasible", None))
    with pytest.raises(CertificationError, match="said infeasible, but 'cpsat' found a verified allocation"):
        solve(small_round(), "highs", certify="cpsat", diagnose=False)


def test_without_certify_there_is_no_certificate() -> None:
    a = solve(small_round(Lock(application="D")), "highs")
    assert a.certificate is None and "Certified" not in a.message


def test_certificate_of_a_time_limited_run_says_what_it_checked() -> None:
    """A 'feasible' claim (stopped early) is checked against its bound, not confirmed as optimal."""
    problem = small_round()
    base = solve(problem, "highs")
    model = compile_problem(problem)
    claim = base.model_copy(update={"status": "feasible", "bound": 300.0, "gap": 0.2})
    objective = sum(model.objective())
    checked = certify(problem, model, claim, objective, None, "cpsat", base.solver.options)
    assert checked.certificate is not None and checked.certificate.confirmed
    assert checked.certificate.note == "nothing found above the claimed bound"


def big_money_round() -> Problem:
    """£500m of bids against a £300m budget: beyond the floating-point backends' trusted range."""
    apps = tuple(
        Application(id=k, organisation=k, client_groups=("g",), cost=cost, outcome_score=score)
        for k, cost, score in [
            ("A", 20_000_000_000, 90),
            ("B", 15_000_000_000, 80),
            ("C", 15_000_000_000, 40),
        ]
    )
    return Problem(
        applications=apps,
        districts=(District(id="H", population=100),),
        client_groups=(ClientGroup(id="g"),),
        budget=Budget(total=30_000_000_000),
    )


def test_highs_refuses_amounts_beyond_its_trusted_range() -> None:
    with pytest.raises(
        allocate.SolverError, match=r"trusted on amounts up to £100,000,000.*use backend 'cpsat'"
    ):
        solve(big_money_round(), "highs")


def test_cpsat_solves_big_money_and_says_no_partner_can_certify_it() -> None:
    a = solve(big_money_round(), "cpsat", certify=True)
    assert a.status == "optimal" and a.funded == {"A"}
    assert a.certificate is not None and not a.certificate.confirmed
    assert "not trusted on amounts above £100,000,000" in a.certificate.note
