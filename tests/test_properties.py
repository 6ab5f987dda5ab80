"""Property tests: every backend against the brute-force oracle, and against each other.

Optimal values are compared with math.isclose(rel_tol=1e-6, abs_tol=1e-6), not exactly:

* value is a float (normalised score × pounds, × 100, or × beneficiaries) summed over
  awards, so the same allocation summed in a different order differs in the last bits;
* a solver stops when its incumbent is within its own tolerance of its bound (HiGHS's
  absolute MIP gap is 1e-6; CP-SAT rounds the objective to about 2^-50 relative), so of two
  allocations whose values differ by less than that it may return either;
* hypothesis draws arbitrary floats for some scores (down to 1e-300), so such
  near-ties are generated on purpose.

A real mistake (an award missed, a rule misread) changes the value by at least one award's
value, far above 1e-6 relative unless that award is itself worth next to nothing. Feasibility
is compared exactly (brute force allows the model's 1e-3 pence on fractional rows, see brute.TOLERANCE).
"""

from __future__ import annotations

import math
from functools import lru_cache

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

import allocate
from allocate import (
    Allocation,
    Application,
    Budget,
    ClientGroup,
    District,
    EqualityGap,
    Problem,
    Weights,
    solve,
    verify,
)
from brute import BruteResult, Checker, brute_force, feasible_sets, verify_feasible_sets
from strategies import examples, large_problem, problems, tie_problems

REL = 1e-6
BACKENDS = allocate.BACKENDS


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=REL)


@lru_cache(maxsize=256)
def _oracle(blob: str) -> BruteResult:
    return brute_force(Problem.model_validate_json(blob))


def oracle(problem: Problem) -> BruteResult:
    """Brute force, cached by the problem's JSON (the same example is solved by four backends)."""
    return _oracle(problem.model_dump_json())


def chosen_of(a: Allocation) -> list[tuple[str, str | None]]:
    return [(w.application, w.variant) for w in a.awards]


# --------------------------------------------------------------------------- checks
def check_allocation(problem: Problem, a: Allocation, weights: Weights | None = None) -> None:
    """Everything that must hold of an allocation with awards, checked independently."""
    chosen = chosen_of(a)
    assert a.verified
    assert verify(problem, chosen, weights=weights).ok
    ck = Checker(problem, weights)
    assert ck.violations(chosen) == [], f"independent checks fail: {ck.violations(chosen)}"
    vo, vs = ck.value(chosen)
    assert close(a.value_outcome, vo) and close(a.value_social, vs)
    assert close(a.value, a.value_outcome + a.value_social)
    assert close(a.value, math.fsum(w.value for w in a.awards))
    assert isinstance(a.total, int) and a.total == sum(w.amount for w in a.awards)
    assert a.total <= problem.budget.total
    for w in a.awards:
        assert isinstance(w.amount, int) and sum(w.profile) == w.amount
        assert close(w.value, w.value_outcome + w.value_social)
    assert len({w.application for w in a.awards}) == len(a.awards), "two options of one application"
    assert all(r.ok for r in a.rules_report)


def conflict_groups(problem: Problem, conflict: tuple[str, ...]) -> tuple[set[int], bool, bool]:
    """(indices of rules owning the conflict's rows, budget named?, variants named?)."""
    model = allocate.compile_problem(problem)
    rules: set[int] = set()
    budget = variants = False
    for label in conflict:
        owners = {int(g) for lbl, g in zip(model.row_labels, model.row_rule, strict=True) if lbl == label}
        assert owners, f"conflict names {label!r}, which is no row of the problem"
        rules |= {g for g in owners if g >= 0}
        budget |= -1 in owners
        variants |= -2 in owners
    return rules, budget, variants


def check_conflict(problem: Problem, conflict: tuple[str, ...]) -> None:
    """The named rules alone are infeasible, and (where brute force can say) each one is needed."""
    assert conflict, "an infeasible problem must name the clashing rules"
    rules, budget, variants = conflict_groups(problem, conflict)
    only = problem.replace(rules=tuple(problem.rules[i] for i in sorted(rules)))
    assert oracle(only).value is None, "the named rules (with budget) are not infeasible on their own"
    if not budget:
        if any(r.kind == "pot" or (r.kind == "min_spend" and r.min_share is not None) for r in problem.rules):
            # A Pot's ring fence and a MinSpend share are defined by the budget: a larger budget
            # would change those rules, not just drop the budget row.
            return
        big = sum(max([a.cost, *(v.cost for v in a.variants)]) for a in problem.applications)
        years = problem.budget.years
        only = only.replace(budget=Budget(total=big * years, per_year=(big,) * years if years > 1 else None))
    if not variants and any(a.variants for a in problem.applications):
        return  # the conflict relaxes "one option per application", which brute force cannot
    for i in sorted(rules):
        rest = only.replace(rules=tuple(r for r in only.rules if r is not problem.rules[i]))
        assert oracle(rest).value is not None, f"conflict is not irreducible: rule {i} is not needed"


def check_against_oracle(problem: Problem, backend: str) -> None:
    note(f"problem = Problem.model_validate_json({problem.model_dump_json()!r})")
    truth = oracle(problem)
    note(f"brute force: value {truth.value} with {truth.chosen}")
    a = solve(problem, backend)
    note(f"{backend}: {a.status} value {a.value} awards {chosen_of(a)} conflict {a.conflict}")
    if truth.value is None:
        event("infeasible")
        assert a.status == "infeasible"
        assert not a.awards and not a.verified
        check_conflict(problem, a.conflict)
        return
    event("feasible, empty optimum" if not truth.chosen else "feasible")
    assert a.status == "optimal"
    assert close(a.value, truth.value), f"{backend} value {a.value} != brute force {truth.value}"
    check_allocation(problem, a)


# --------------------------------------------------------------------------- the oracle itself
@settings(max_examples=examples(80))
@given(problems(max_apps=5, max_combinations=150))
def test_own_checks_agree_with_verify(problem: Problem) -> None:
    """The oracle's plain checks and the engine's verifier accept exactly the same allocations."""
    note(problem.model_dump_json())
    assert feasible_sets(problem) == verify_feasible_sets(problem)


# --------------------------------------------------------------------------- backends vs brute force
HIGHS_FALSE_INFEASIBLE = (
    '{"applications":[{"id":"A2","organisation":"O","client_groups":["older"],"districts":["Rother","Wealden"],'
    '"cost":1000,"outcome_score":50.0,"social_scores":[0.0],"variants":[{"id":"A2v2","cost":372,'
    '"districts":["Hastings"]}]},{"id":"A3","organisation":"O","client_groups":["carers"],"districts":["Rother"],'
    '"cost":1000000,"outcome_score":50.0,"social_scores":[0.0],"variants":[{"id":"A3v1","cost":49},'
    '{"id":"A3v2","cost":500000,"districts":[]}]},{"id":"A4","organisation":"O","client_groups":["older"],'
    '"districts":[],"cost":250000,"outcome_score":50.0,"social_scores":[0.0],"variants":[{"id":"A4v1","cost":1}]},'
    '{"id":"A6","organisation":"O","client_groups":["carers"],"districts":["Hastings"],"cost":100000,'
    '"outcome_score":50.0,"social_scores":[0.0]},{"id":"A7","organisation":"O","client_groups":["older"],'
    '"districts":["Hastings"],"cost":1,"outcome_score":50.0,"social_scores":[0.0],"variants":[{"id":"A7v2",'
    '"cost":500,"districts":[]}]},{"id":"A9","organisation":"O","client_groups":["carers"],"districts":["Rother"],'
    '"cost":100000,"outcome_score":50.0,"social_scores":[0.0]},{"id":"A10","organisation":"O",'
    '"client_groups":["carers"],"districts":["Rother"],"cost":500000,"outcome_score":50.0,"social_scores":[0.0]}],'
    '"districts":[{"id":"Hastings","population":4,"need":1.0},{"id":"Rother","population":4,"need":3.0},'
    '{"id":"Wealden","population":5,"need":3.0}],"client_groups":[{"id":"carers","need":3.0},'
    '{"id":"older","need":3.0}],"budget":{"total":2351711},"rules":[{"kind":"equality_gap","over":"district",'
    '"basis":"need","tolerance":0.0}],"weights":{"social_value_share":0.0},"social_objectives":["SC1"]}'
)
"""Found by hypothesis: only the empty allocation meets the exact equality gap, HiGHS says infeasible."""

CBC_PREPROCESS_INFEASIBLE = (
    '{"applications":[{"id":"A","organisation":"O1","client_groups":["g"],"cost":100,"outcome_score":50},'
    '{"id":"B","organisation":"O2","client_groups":["g"],"cost":5000,"outcome_score":50}],'
    '"districts":[{"id":"H","population":1}],"client_groups":[{"id":"g"}],"budget":{"total":1000},'
    '"rules":[{"kind":"lock","application":"A"},{"kind":"organisation_cap","organisation":"O1","max_share":0.3}]}'
)
"""Found by hypothesis (then shrunk by hand): CBC's preprocessing proves infeasibility, backend raises."""

CBC_FALSE_INFEASIBLE = (
    '{"applications":[{"id":"A6","organisation":"Age UK","client_groups":["carers"],"districts":["Hastings","Rother"],'
    '"cost":8750000,"outcome_score":50.0,"social_scores":[0.0],"variants":[{"id":"A6v2","cost":1,"social_scores":[0.0],'
    '"districts":[]}]},{"id":"A9","organisation":"Age UK","client_groups":["carers"],"districts":[],"cost":250000,'
    '"outcome_score":50.0,"social_scores":[0.0],"variants":[{"id":"A9v1","cost":1},{"id":"A9v2","cost":1,'
    '"districts":["Hastings","Rother"]}]}],"districts":[{"id":"Hastings","population":1,"need":0.5},'
    '{"id":"Rother","population":15057,"need":0.5},{"id":"Wealden","population":1,"need":0.5},'
    '{"id":"Lewes","population":1,"need":0.5}],"client_groups":[{"id":"carers","need":0.5},{"id":"older","need":0.5}],'
    '"budget":{"total":5550000},"rules":[{"kind":"equality_gap","over":"district","basis":"population",'
    '"tolerance":0.1,"ratio":[1.0,1.0]}],"weights":{"social_value_share":0.0},"social_objectives":["SC1"]}'
)
"""Found by hypothesis (explore profile, then shrunk): every district's share must equal its population share
exactly; county-wide awards meet that exactly (and funding nothing always does), yet CBC says infeasible."""

CBC_EMPTY_ROW = (
    '{"applications":[{"id":"A","organisation":"O","client_groups":["g1"],"cost":100,"outcome_score":50}],'
    '"districts":[{"id":"H","population":1}],"client_groups":[{"id":"g1"},{"id":"g2"}],"budget":{"total":1000},'
    '"rules":[{"kind":"no_new_gaps","cells":["H:g2"]}]}'
)
"""Found by hypothesis: a rule row no candidate enters (0 >= 1); CBC's conflict search raises."""


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=examples(200))
@given(problem=problems())
def test_backend_matches_brute_force(backend: str, problem: Problem) -> None:
    check_against_oracle(problem, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=examples(12))
@given(problem=problems(min_apps=11, max_apps=14, max_combinations=40_000, max_rules=3))
def test_backend_matches_brute_force_up_to_fourteen_applications(backend: str, problem: Problem) -> None:
    check_against_oracle(problem, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=examples(60))
@given(problem=tie_problems())
def test_backend_matches_brute_force_on_exact_ties(backend: str, problem: Problem) -> None:
    """Shares exactly on their bounds (1/3 of the money, a district's exact population share)."""
    check_against_oracle(problem, backend)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=examples(600))
@given(problem=problems(max_rules=6))
def test_backend_matches_brute_force_thorough(backend: str, problem: Problem) -> None:
    check_against_oracle(problem, backend)


@settings(max_examples=examples(60))
@given(
    problem=problems(max_apps=7),
    share=st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.9, 1.0]),
    form=st.sampled_from(["quality_pounds", "score_sum", "score_beneficiaries"]),
)
def test_weights_override_matches_brute_force(problem: Problem, share: float, form: str) -> None:
    """`solve(..., weights=w)` is optimal for w, not for the problem's own weights."""
    if form == "score_beneficiaries" and any(a.beneficiaries is None for a in problem.applications):
        form = "score_sum"
    w = Weights(social_value_share=share, value_form=form)  # type: ignore[arg-type]
    note(f"problem = {problem.model_dump_json()}, weights = {w}")
    truth = brute_force(problem, weights=w)
    a = solve(problem, "highs", weights=w)
    if truth.value is None:
        assert a.status == "infeasible"
        return
    assert a.status == "optimal" and a.weights == w
    assert close(a.value, truth.value)
    check_allocation(problem, a, weights=w)


# --------------------------------------------------------------------------- backends vs each other
def check_backends_agree(problem: Problem) -> None:
    results = {b: solve(problem, b) for b in BACKENDS}
    statuses = {b: a.status for b, a in results.items()}
    assert len(set(statuses.values())) == 1, statuses
    if statuses["highs"] == "infeasible":
        assert all(a.conflict for a in results.values())
        return
    values = {b: a.value for b, a in results.items()}
    assert all(close(v, values["highs"]) for v in values.values()), values
    for a in results.values():
        check_allocation(problem, a)


@pytest.mark.parametrize("seed", range(12))
def test_backends_agree_on_larger_problems(seed: int) -> None:
    check_backends_agree(large_problem(seed, n_apps=30 + (seed * 7) % 31))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12, 212))
def test_backends_agree_on_larger_problems_thorough(seed: int) -> None:
    check_backends_agree(large_problem(seed, n_apps=30 + (seed * 7) % 31))


# --------------------------------------------------------------------------- regressions
@pytest.mark.parametrize("backend", BACKENDS)
def test_regression_exact_share_tie(backend: str) -> None:
    """Found while reading the CP-SAT scaling: a share exactly on its bound (1/3) must stay feasible.

    X (carers, 200p) and Y (older, 100p), budget 300p, older must get at least 1/3 of the money.
    Funding both gives older exactly 1/3: allowed, and worth 3× funding Y alone.
    """
    problem = Problem.model_validate(
        {
            "applications": [
                {
                    "id": "X",
                    "organisation": "O1",
                    "client_groups": ["carers"],
                    "cost": 200,
                    "outcome_score": 50,
                },
                {
                    "id": "Y",
                    "organisation": "O2",
                    "client_groups": ["older"],
                    "cost": 100,
                    "outcome_score": 50,
                },
            ],
            "districts": [{"id": "H", "population": 1}],
            "client_groups": [{"id": "carers"}, {"id": "older"}],
            "budget": {"total": 300},
            "rules": [{"kind": "coverage", "over": "client_group", "key": "older", "min_share": 1 / 3}],
        }
    )
    assert verify(problem, [("X", None), ("Y", None)]).ok
    truth = brute_force(problem)
    assert truth.chosen is not None and set(truth.chosen) == {("X", None), ("Y", None)}
    a = solve(problem, backend)
    assert (a.status, a.funded) == ("optimal", {"X", "Y"}), (a.status, a.funded)


@pytest.mark.parametrize("backend", BACKENDS)
def test_regression_county_wide_award_meets_exact_population_shares(backend: str) -> None:
    """Found by hypothesis, shrunk by hand. One county-wide £2,500 bid; H has 2/3 of the population, R 1/3.
    Its money splits exactly 2/3 : 1/3, so an equality gap of tolerance 0 on population allows it."""
    problem = Problem(
        applications=(
            Application(id="A", organisation="O", client_groups=("g",), cost=250_000, outcome_score=50.0),
        ),
        districts=(District(id="H", population=2), District(id="R", population=1)),
        client_groups=(ClientGroup(id="g"),),
        budget=Budget(total=10_000_000),
        rules=(EqualityGap(over="district", basis="population", tolerance=0.0),),
    )
    assert verify(problem, [("A", None)]).ok and oracle(problem).chosen == (("A", None),)
    a = solve(problem, backend)
    assert (a.status, a.funded) == ("optimal", {"A"}), (a.status, a.funded, a.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_regression_exact_population_shares_are_feasible(backend: str) -> None:
    """County-wide awards split money exactly by population, so they meet EqualityGap ratio (1, 1)."""
    problem = Problem.model_validate_json(CBC_FALSE_INFEASIBLE)
    truth = oracle(problem)
    assert truth.value is not None and truth.chosen == (("A6", "A6v2"), ("A9", None))
    a = solve(problem, backend)
    assert a.status == "optimal", (a.status, a.conflict)
    assert close(a.value, truth.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_regression_only_the_empty_allocation_is_feasible(backend: str) -> None:
    """An exact equality gap (tolerance 0) that no non-empty allocation meets: the optimum is to fund nothing."""
    problem = Problem.model_validate_json(HIGHS_FALSE_INFEASIBLE)
    assert oracle(problem).chosen == ()
    a = solve(problem, backend)
    assert (a.status, a.awards, a.value) == ("optimal", (), 0.0)


@pytest.mark.parametrize("diagnose", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_regression_infeasible_found_in_preprocessing(backend: str, diagnose: bool) -> None:
    """Lock A (O1) with O1 ≤ 30% of the money needs ≥ 234p for others, and the only other bid costs 5000p."""
    problem = Problem.model_validate_json(CBC_PREPROCESS_INFEASIBLE)
    a = solve(problem, backend, diagnose=diagnose)
    assert a.status == "infeasible"
    if diagnose:
        assert set(a.conflict) == {"Budget[total]", "Lock[fund A]", "OrganisationCap.max_share[O1]"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_regression_rule_row_no_candidate_enters(backend: str) -> None:
    """NoNewGaps for a cell nobody serves: infeasible, and the conflict is that one row."""
    problem = Problem.model_validate_json(CBC_EMPTY_ROW)
    a = solve(problem, backend)
    assert a.status == "infeasible"
    assert a.conflict == ("NoNewGaps[H:g2]",)


NEW_RULE_KINDS = ("min_spend", "coverage", "organisation_cap", "equality_gap")
"""Rule kinds of issue 12 (spend targets, tags), drawn with the rules they interact with."""


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=examples(80))
@given(problem=problems(rule_kinds=NEW_RULE_KINDS))
def test_spend_targets_and_tags_match_brute_force(backend: str, problem: Problem) -> None:
    check_against_oracle(problem, backend)
