"""Bad input: one test per kind of malformed field. Each must raise InvalidProblemError whose
message names the field concerned (never a bare pydantic ValidationError)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

import allocate
from allocate import (
    AllocateError,
    Application,
    Budget,
    ClientGroup,
    Coverage,
    District,
    EqualityGap,
    Exclusive,
    InvalidProblemError,
    Lock,
    MinOrganisations,
    NoNewGaps,
    OrganisationCap,
    PassMark,
    Pot,
    Problem,
    Requires,
    SolverError,
    SolverOptions,
    Variant,
    Weights,
    solve,
)


def app_dict(**changes: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": "A",
        "organisation": "O",
        "client_groups": ("g",),
        "cost": 100,
        "outcome_score": 50.0,
    }
    d.update(changes)
    return d


def application(**changes: Any) -> Application:
    return Application(**app_dict(**changes))


def problem(**changes: Any) -> Problem:
    d: dict[str, Any] = {
        "applications": (application(),),
        "districts": (District(id="H", population=1),),
        "client_groups": (ClientGroup(id="g"),),
        "budget": Budget(total=1000),
    }
    d.update(changes)
    return Problem(**d)


def problem_dict(**changes: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "applications": [app_dict(client_groups=["g"])],
        "districts": [{"id": "H", "population": 1}],
        "client_groups": [{"id": "g"}],
        "budget": {"total": 1000},
    }
    d.update(changes)
    return d


# (case id, builder, words the message must contain)
CASES: list[tuple[str, Callable[[], Any], tuple[str, ...]]] = [
    # money
    ("zero cost", lambda: application(cost=0), ("cost",)),
    ("negative cost", lambda: application(cost=-100), ("cost",)),
    ("fractional pence", lambda: application(cost=100.5), ("cost",)),
    ("cost as text", lambda: application(cost="100"), ("cost",)),
    ("zero variant cost", lambda: Variant(id="v", cost=0), ("cost",)),
    ("zero budget", lambda: Budget(total=0), ("total",)),
    ("negative budget", lambda: Budget(total=-1), ("total",)),
    ("zero yearly budget", lambda: Budget(total=100, per_year=(100, 0)), ("per_year",)),
    ("per-year limits not summing to total", lambda: Budget(total=100, per_year=(50, 40)), ("per_year",)),
    ("cost profile not summing to cost", lambda: application(cost_profile=(50, 40)), ("cost_profile",)),
    ("negative yearly amount", lambda: application(cost_profile=(150, -50)), ("cost_profile",)),
    (
        "cost profile of the wrong length",
        lambda: problem(applications=(application(cost_profile=(50, 50)),)),
        ("cost_profile", "applications[0]"),
    ),
    (
        "variant cost profile not summing",
        lambda: application(variants=(Variant(id="v", cost=60, cost_profile=(10, 10)),)),
        ("cost_profile",),
    ),
    (
        "variant cost profile of the wrong length",
        lambda: problem(
            applications=(application(variants=(Variant(id="v", cost=60, cost_profile=(30, 30)),)),)
        ),
        ("variants[0]", "cost_profile"),
    ),
    # scores
    ("NaN outcome score", lambda: application(outcome_score=math.nan), ("outcome_score",)),
    ("infinite outcome score", lambda: application(outcome_score=math.inf), ("outcome_score",)),
    ("negative outcome score", lambda: application(outcome_score=-1.0), ("outcome_score",)),
    ("NaN social score", lambda: application(social_scores=(math.nan,) + (1.0,) * 5), ("social_scores",)),
    (
        "infinite social score",
        lambda: application(social_scores=(1.0,) * 5 + (math.inf,)),
        ("social_scores",),
    ),
    (
        "outcome score above the scale",
        lambda: problem(applications=(application(outcome_score=100.5),)),
        ("outcome_score", "applications[0]"),
    ),
    (
        "social score above the scale",
        lambda: problem(applications=(application(social_scores=(1.0,) * 5 + (6.0,)),)),
        ("social_scores",),
    ),
    (
        "variant outcome score above the scale",
        lambda: problem(
            applications=(application(variants=(Variant(id="v", cost=50, outcome_score=101.0),)),)
        ),
        ("variants[0].outcome_score",),
    ),
    (
        "wrong number of social scores",
        lambda: problem(applications=(application(social_scores=(1.0,) * 5),)),
        ("social_scores",),
    ),
    (
        "wrong number of variant social scores",
        lambda: problem(
            applications=(application(variants=(Variant(id="v", cost=50, social_scores=(1.0,)),)),)
        ),
        ("variants[0].social_scores",),
    ),
    ("NaN score scale", lambda: allocate.ScoreScale(outcome_max=math.nan), ("outcome_max",)),
    # ids and references
    (
        "duplicate application ids",
        lambda: problem(applications=(application(), application())),
        ("applications", "'A'"),
    ),
    (
        "duplicate district ids",
        lambda: problem(districts=(District(id="H", population=1), District(id="H", population=2))),
        ("districts", "'H'"),
    ),
    (
        "duplicate client group ids",
        lambda: problem(client_groups=(ClientGroup(id="g"), ClientGroup(id="g"))),
        ("client_groups", "'g'"),
    ),
    (
        "duplicate variant ids",
        lambda: application(variants=(Variant(id="v", cost=5), Variant(id="v", cost=6))),
        ("variant",),
    ),
    (
        "variant id equal to its application's",
        lambda: application(variants=(Variant(id="A", cost=5),)),
        ("variant",),
    ),
    ("district listed twice", lambda: application(districts=("H", "H")), ("districts", "'H'")),
    ("client group listed twice", lambda: application(client_groups=("g", "g")), ("client_groups", "'g'")),
    ("empty id", lambda: application(id=""), ("id",)),
    ("no client group", lambda: application(client_groups=()), ("client_groups",)),
    ("no applications", lambda: problem(applications=()), ("applications",)),
    ("no districts", lambda: problem(districts=()), ("districts",)),
    (
        "unknown district",
        lambda: problem(applications=(application(districts=("Nowhere",)),)),
        ("districts", "'Nowhere'"),
    ),
    (
        "unknown client group",
        lambda: problem(applications=(application(client_groups=("pirates",)),)),
        ("client_groups", "'pirates'"),
    ),
    (
        "unknown variant district",
        lambda: problem(
            applications=(application(variants=(Variant(id="v", cost=5, districts=("Nowhere",)),)),)
        ),
        ("variants[0].districts", "'Nowhere'"),
    ),
    ("unknown field", lambda: application(colour="red"), ("colour",)),
    # geography and weights
    ("zero population", lambda: District(id="H", population=0), ("population",)),
    ("fractional population", lambda: District(id="H", population=1.5), ("population",)),
    ("negative need", lambda: District(id="H", population=1, need=-1.0), ("need",)),
    ("NaN group need", lambda: ClientGroup(id="g", need=math.nan), ("need",)),
    ("social value share above 1", lambda: Weights(social_value_share=1.5), ("social_value_share",)),
    ("NaN social value share", lambda: Weights(social_value_share=math.nan), ("social_value_share",)),
    (
        "all social weights zero",
        lambda: Weights(social_objective_weights=(0.0,) * 6),
        ("social_objective_weights",),
    ),
    (
        "wrong number of social weights",
        lambda: problem(weights=Weights(social_objective_weights=(1.0,) * 5)),
        ("social_objective_weights",),
    ),
    ("unknown value form", lambda: Weights(value_form="pounds"), ("value_form",)),
    (
        "beneficiaries missing for score × beneficiaries",
        lambda: problem(weights=Weights(value_form="score_beneficiaries")),
        ("beneficiaries",),
    ),
    ("negative beneficiaries", lambda: application(beneficiaries=-1), ("beneficiaries",)),
    # rules
    (
        "Lock of an unknown application",
        lambda: problem(rules=(Lock(application="Z"),)),
        ("application", "'Z'"),
    ),
    (
        "Lock of an unknown variant",
        lambda: problem(rules=(Lock(application="A", variant="zz"),)),
        ("variant", "'zz'"),
    ),
    (
        "Lock exclude with a variant",
        lambda: problem(rules=(Lock(application="A", fund=False, variant="A"),)),
        ("variant",),
    ),
    (
        "Exclusive with an unknown application",
        lambda: problem(rules=(Exclusive(applications=("A", "Z")),)),
        ("applications[1]", "'Z'"),
    ),
    (
        "Exclusive listing an application twice",
        lambda: problem(rules=(Exclusive(applications=("A", "A")),)),
        ("applications",),
    ),
    ("Exclusive of one application", lambda: Exclusive(applications=("A",)), ("applications",)),
    (
        "Requires an unknown application",
        lambda: problem(rules=(Requires(application="A", requires="Z"),)),
        ("requires", "'Z'"),
    ),
    (
        "Requires by an unknown application",
        lambda: problem(rules=(Requires(application="Z", requires="A"),)),
        ("application", "'Z'"),
    ),
    ("Requires itself", lambda: problem(rules=(Requires(application="A", requires="A"),)), ("requires",)),
    (
        "Coverage key not in the problem",
        lambda: problem(rules=(Coverage(over="district", key="Nowhere", min_count=1),)),
        ("key", "'Nowhere'"),
    ),
    (
        "Coverage cell key not in the problem",
        lambda: problem(rules=(Coverage(over="cell", key="H:pirates", min_count=1),)),
        ("key", "'H:pirates'"),
    ),
    ("Coverage with no bound", lambda: Coverage(over="district"), ("bound",)),
    ("Coverage share above 1", lambda: Coverage(over="district", min_share=1.5), ("min_share",)),
    ("Coverage negative amount", lambda: Coverage(over="district", min_amount=-1), ("min_amount",)),
    ("Coverage over an unknown dimension", lambda: Coverage(over="ward", min_count=1), ("over",)),
    (
        "EqualityGap on client-group population",
        lambda: problem(rules=(EqualityGap(over="client_group", basis="population"),)),
        ("basis",),
    ),
    ("EqualityGap inverted ratio", lambda: problem(rules=(EqualityGap(ratio=(2.0, 1.0)),)), ("ratio",)),
    ("EqualityGap NaN tolerance", lambda: EqualityGap(tolerance=math.nan), ("tolerance",)),
    ("Pot larger than the budget", lambda: problem(rules=(Pot(max_per_year=10, amount=5000),)), ("amount",)),
    ("Pot with zero amount", lambda: Pot(max_per_year=10, amount=0), ("amount",)),
    (
        "NoNewGaps unknown cell",
        lambda: problem(rules=(NoNewGaps(cells=("H:pirates",)),)),
        ("cells", "'H:pirates'"),
    ),
    (
        "OrganisationCap of an unknown organisation",
        lambda: problem(rules=(OrganisationCap(organisation="Z", max_awards=1),)),
        ("organisation", "'Z'"),
    ),
    ("OrganisationCap with no cap", lambda: OrganisationCap(), ("max_amount",)),
    ("MinOrganisations of zero", lambda: MinOrganisations(count=0), ("count",)),
    ("PassMark with no mark", lambda: PassMark(), ("min_outcome",)),
    ("PassMark above the scale", lambda: problem(rules=(PassMark(min_outcome=101.0),)), ("min_outcome",)),
    ("PassMark social above the scale", lambda: problem(rules=(PassMark(min_social=6.0),)), ("min_social",)),
    # solver options
    ("negative time limit", lambda: SolverOptions(time_limit=-1.0), ("time_limit",)),
    ("zero threads", lambda: SolverOptions(threads=0), ("threads",)),
    ("gap above 1", lambda: SolverOptions(relative_gap=2.0), ("relative_gap",)),
    ("unknown solver option", lambda: solve(problem(), "highs", speed="ludicrous"), ("speed",)),
]


@pytest.mark.parametrize(("build", "words"), [pytest.param(b, w, id=i) for i, b, w in CASES])
def test_malformed_input_is_rejected_naming_the_field(
    build: Callable[[], Any], words: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidProblemError) as info:
        build()
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert info.value.field and info.value.reason
    assert isinstance(info.value, AllocateError)


# --------------------------------------------------------------------------- JSON-like dicts
DICT_CASES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("missing budget", {k: v for k, v in problem_dict().items() if k != "budget"}, ("budget",)),
    ("cost as text", problem_dict(applications=[app_dict(cost="100")]), ("applications[0].cost",)),
    ("cost as float", problem_dict(applications=[app_dict(cost=100.0)]), ("applications[0].cost",)),
    ("negative cost", problem_dict(applications=[app_dict(cost=-1)]), ("applications[0].cost",)),
    ("NaN score", problem_dict(applications=[app_dict(outcome_score=float("nan"))]), ("outcome_score",)),
    ("unknown rule kind", problem_dict(rules=[{"kind": "magic"}]), ("rules[0]", "magic")),
    ("rule without kind", problem_dict(rules=[{"application": "A"}]), ("rules[0]",)),
    (
        "rule with a bad field",
        problem_dict(rules=[{"kind": "lock", "application": "A", "fnud": True}]),
        ("fnud",),
    ),
    ("rule referring to nothing", problem_dict(rules=[{"kind": "lock", "application": "Z"}]), ("'Z'",)),
    ("applications not a list", problem_dict(applications=5), ("applications",)),
    ("duplicate applications", problem_dict(applications=[app_dict(), app_dict()]), ("applications",)),
    (
        "duplicate variants",
        problem_dict(applications=[app_dict(variants=[{"id": "v", "cost": 1}, {"id": "v", "cost": 2}])]),
        ("applications[0]", "variant"),
    ),
    ("unknown top-level field", problem_dict(colour="red"), ("colour",)),
    ("budget per_year mismatch", problem_dict(budget={"total": 100, "per_year": [10, 10]}), ("per_year",)),
]


@pytest.mark.parametrize(("data", "words"), [pytest.param(d, w, id=i) for i, d, w in DICT_CASES])
def test_from_dict_raises_invalid_problem_error(data: dict[str, Any], words: tuple[str, ...]) -> None:
    with pytest.raises(InvalidProblemError) as info:
        Problem.from_dict(data)
    for word in words:
        assert word in str(info.value), f"{word!r} not in {info.value}"
    # The same dict given straight to solve() fails the same way.
    with pytest.raises(InvalidProblemError):
        solve(data)


def test_from_dict_of_non_dict() -> None:
    with pytest.raises(InvalidProblemError):
        Problem.from_dict([1, 2, 3])  # type: ignore[arg-type]


def test_from_dict_round_trip_of_a_valid_problem() -> None:
    p = problem(rules=(Lock(application="A"),))
    assert Problem.from_dict(json.loads(p.model_dump_json())) == p


def test_model_validate_json_raises_invalid_problem_error() -> None:
    """JSON text read through pydantic's own entry point must still give the library's error."""
    with pytest.raises(InvalidProblemError):
        Problem.model_validate_json(json.dumps(problem_dict(applications=[app_dict(cost=-1)])))


def test_model_validate_raises_invalid_problem_error() -> None:
    with pytest.raises(InvalidProblemError):
        Problem.model_validate(problem_dict(applications=[app_dict(cost=-1)]))


# --------------------------------------------------------------------------- the field attribute
@pytest.mark.parametrize(
    ("build", "field"),
    [
        pytest.param(lambda: Budget(total=100, per_year=(50, 40)), "per_year", id="per_year"),
        pytest.param(lambda: application(cost_profile=(50, 40)), "cost_profile", id="cost_profile"),
        pytest.param(
            lambda: application(variants=(Variant(id="v", cost=5), Variant(id="v", cost=6))),
            "variants",
            id="variants",
        ),
        pytest.param(lambda: application(districts=("H", "H")), "districts", id="districts"),
    ],
)
def test_error_field_attribute_names_the_field(build: Callable[[], Any], field: str) -> None:
    """`InvalidProblemError.field` is for programs (e.g. to highlight a form field): it must name
    the field, not "(root)", also for checks that span several fields."""
    with pytest.raises(InvalidProblemError) as info:
        build()
    assert field in info.value.field and "(root)" not in info.value.field, info.value.field


# --------------------------------------------------------------------------- no silent coercion
@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"outcome_score": "50"}, id="score-as-text"),
        pytest.param({"outcome_score": True}, id="score-as-bool"),
        pytest.param({"continues_service": "yes"}, id="flag-as-text"),
        pytest.param({"beneficiaries": "5"}, id="count-as-text"),
    ],
)
def test_no_silent_coercion(changes: dict[str, Any]) -> None:
    """model.py promises "nothing is coerced silently": text where a number or flag belongs is an error."""
    with pytest.raises(InvalidProblemError) as info:
        application(**changes)
    assert next(iter(changes)) in str(info.value)


# --------------------------------------------------------------------------- solve()
def test_unknown_backend() -> None:
    with pytest.raises(SolverError, match="gurobi"):
        solve(problem(), "gurobi")


def test_solve_rejects_a_non_problem() -> None:
    with pytest.raises(InvalidProblemError, match="problem"):
        solve(42)  # type: ignore[arg-type]


def test_solve_rejects_a_model_compiled_from_another_problem() -> None:
    other = allocate.compile_problem(problem(budget=Budget(total=500)))
    with pytest.raises(InvalidProblemError, match="compiled"):
        solve(problem(), "highs", compiled=other)


def test_verify_reports_unknown_awards_without_raising() -> None:
    check = allocate.verify(problem(), [("Z", None), ("A", "nope")])
    assert not check.ok
    assert any("'Z'" in v for v in check.violations) and any("'nope'" in v for v in check.violations)


# --------------------------------------------------------------------------- structured locations
LOC_CASES: list[tuple[str, Callable[[], Any], tuple[str | int, ...], str]] = [
    # pydantic's own field errors, under the model's name
    (
        "pydantic field",
        lambda: Problem.from_dict(problem_dict(applications=[app_dict(cost=-1)])),
        ("Problem", "applications", 0, "cost"),
        "greater than 0",
    ),
    ("pydantic field, own model", lambda: application(cost=0), ("Application", "cost"), "greater than 0"),
    (
        "pydantic field of a rule: no union tag in the path",
        lambda: Problem.from_dict(problem_dict(rules=[{"kind": "pot", "max_per_year": -1, "amount": 5}])),
        ("Problem", "rules", 0, "max_per_year"),
        "greater than 0",
    ),
    # checks across fields in a model validator, placed at one field wherever the model is
    (
        "rule needs a bound",
        lambda: Coverage(over="district"),
        ("Coverage", "min_amount"),
        "at least one bound",
    ),
    (
        "rule needs a bound, nested",
        lambda: Problem.from_dict(problem_dict(rules=[{"kind": "coverage", "over": "district"}])),
        ("Problem", "rules", 0, "min_amount"),
        "at least one bound",
    ),
    (
        "cross-field in a field validator",
        lambda: application(cost_profile=(50, 40)),
        ("Application", "cost_profile"),
        "sums to",
    ),
    # checks across the problem (model.py)
    (
        "unknown district",
        lambda: problem(applications=(application(districts=("Z",)),)),
        ("Problem", "applications", 0, "districts", 0),
        "unknown district 'Z' (application 'A')",
    ),
    (
        "variant score",
        lambda: problem(
            applications=(application(variants=(Variant(id="v", cost=5, outcome_score=500.0),)),)
        ),
        ("Problem", "applications", 0, "variants", 0, "outcome_score"),
        "(application 'A', variant 'v')",
    ),
    (
        "one social score",
        lambda: problem(applications=(application(social_scores=(1.0, 2.0, 9.0, 1.0, 1.0, 1.0)),)),
        ("Problem", "applications", 0, "social_scores", 2),
        "9.0 is outside the declared scale",
    ),
    (
        "duplicate id",
        lambda: problem(applications=(application(), application())),
        ("Problem", "applications", 1, "id"),
        "duplicate id 'A'",
    ),
    (
        "weights",
        lambda: problem(weights=Weights(social_objective_weights=(1.0, 2.0))),
        ("Problem", "weights", "social_objective_weights"),
        "has 2 weights",
    ),
    # rules' validate_against: the rule's position, and its label in the reason
    (
        "rule key",
        lambda: problem(rules=(Coverage(over="district", key="X", min_count=1),)),
        ("Problem", "rules", 0, "key"),
        "'X' is not a district of the problem (rule Coverage[district=X])",
    ),
    (
        "rule list item",
        lambda: problem(rules=(Lock(application="A"), Exclusive(applications=("A", "Z")))),
        ("Problem", "rules", 1, "applications", 1),
        "unknown application 'Z' (rule Exclusive[A,Z])",
    ),
    (
        "rule variant",
        lambda: problem(rules=(Lock(application="A", variant="nope"),)),
        ("Problem", "rules", 0, "variant"),
        "'nope' is not an option of 'A' (rule Lock[fund A/nope])",
    ),
    # arguments
    ("argument", lambda: solve(42), ("problem",), "expected a Problem"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("build", "loc", "reason"), [pytest.param(b, loc, r, id=i) for i, b, loc, r in LOC_CASES]
)
def test_error_loc_is_a_path_tuple(build: Callable[[], Any], loc: tuple[str | int, ...], reason: str) -> None:
    """Every error carries `loc`, a tuple like pydantic's, and `field`, its one written form."""
    with pytest.raises(InvalidProblemError) as info:
        build()
    assert info.value.loc == loc
    assert reason in info.value.reason
    assert str(info.value) == f"{info.value.field}: {info.value.reason}"


@pytest.mark.parametrize(
    ("loc", "field"),
    [
        (("Problem", "applications", 3, "cost"), "Problem.applications[3].cost"),
        (("Problem", "rules", 0, "applications", 1), "Problem.rules[0].applications[1]"),
        (("certify",), "certify"),
        (("applications.csv row 7, column cost_pounds",), "applications.csv row 7, column cost_pounds"),
        (("case.pb:9", "PROJECTS", "cost"), "case.pb:9 PROJECTS.cost"),
        (("p.json", "Problem", "budget", "total"), "p.json Problem.budget.total"),
    ],
)
def test_error_field_is_the_loc_written_out(loc: tuple[str | int, ...], field: str) -> None:
    exc = InvalidProblemError(loc, "is wrong")
    assert exc.field == field
    assert str(exc) == f"{field}: is wrong"


def test_error_pickles_with_its_loc() -> None:
    import pickle

    exc = pickle.loads(pickle.dumps(InvalidProblemError(("Problem", "rules", 0, "key"), "is wrong")))
    assert exc.loc == ("Problem", "rules", 0, "key") and exc.reason == "is wrong"
