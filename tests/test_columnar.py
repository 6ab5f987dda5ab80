"""Columnar input (`Problem.from_columns`): the same Problem, the same compiled model and the same
errors as the object-by-object path, from arrays, a DataFrame or an Arrow table."""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from allocate import (
    Application,
    ClientGroup,
    District,
    InvalidProblemError,
    Problem,
    Weights,
    compile_problem,
)
from allocate.domain import schema
from allocate.domain.candidates import candidates
from allocate.domain.columnar import APPLICATION_COLUMNS, REQUIRED, VARIANT_COLUMNS
from allocate.domain.columns import Unbuilt
from allocate.engine.compile import CompiledProblem
from allocate.scenarios import east_sussex_2011
from allocate.scenarios.east_sussex import build_applications, draw_round
from allocate.scenarios.scaled import national_geography, scaled, scaled_columns
from strategies import examples, problems

Columns = dict[str, list[Any]]


def to_columns(problem: Problem) -> tuple[Columns, Columns, dict[str, Any]]:
    """A Problem as the columns of its applications and variants, and its other fields."""
    apps = {f: [getattr(a, f) for a in problem.applications] for f in APPLICATION_COLUMNS}
    variants: Columns = {f: [] for f in VARIANT_COLUMNS}
    for a in problem.applications:
        for v in a.variants:
            variants["application_id"].append(a.id)
            for f in VARIANT_COLUMNS[1:]:
                variants[f].append(getattr(v, f))
    fields = {k: getattr(problem, k) for k in Problem.model_fields if k != "applications"}
    return apps, variants, fields


def _given(value: Any) -> bool:
    return not (value is None or (isinstance(value, float) and math.isnan(value)))


def object_way(apps: Columns, variants: Columns, fields: dict[str, Any]) -> Problem:
    """The same columns made into a Problem object by object (a missing optional value left out)."""

    def record(table: Columns, i: int, required: tuple[str, ...], skip: str = "") -> dict[str, Any]:
        return {k: c[i] for k, c in table.items() if k != skip and (k in required or _given(c[i]))}

    n = len(apps["id"])
    parents = variants.get("application_id", [])
    rows = []
    for i in range(n):
        row = record(apps, i, REQUIRED["applications"])
        mine = [r for r, a in enumerate(parents) if a == apps["id"][i]]
        row["variants"] = [record(variants, r, REQUIRED["variants"], skip="application_id") for r in mine]
        rows.append(row)
    return Problem(applications=rows, **fields)


def _as_array(column: list[Any]) -> Any:
    """The column as a numeric numpy array (2-D for lists of numbers), if that keeps every value and
    its type (a bool among ints would become 1: then the list stays)."""
    try:
        array = np.array(column)
    except ValueError:
        return column
    if array.dtype.kind not in "iufb" or array.ndim not in (1, 2) or len(column) == 0:
        return column
    back = [tuple(r) for r in array.tolist()] if array.ndim == 2 else array.tolist()
    same = all(
        type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))
        if array.ndim == 1
        else type(a) is tuple and all(type(x) is type(y) and x == y for x, y in zip(a, b, strict=True))
        for a, b in zip(column, back, strict=True)
    )
    return array if same else column


def assert_same_model(a: CompiledProblem, b: CompiledProblem) -> None:
    assert (a.A != b.A).nnz == 0 and a.A.shape == b.A.shape
    for name in (
        "row_lo",
        "row_hi",
        "row_rule",
        "row_margin",
        "row_unit",
        "row_structural",
        "var_lb",
        "var_ub",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a.integer, b.integer)
    assert a.row_labels == b.row_labels
    assert a.var_labels == b.var_labels
    for part_a, part_b in zip(a.objective(), b.objective(), strict=True):
        np.testing.assert_array_equal(part_a, part_b)
    assert tuple(a.candidates) == tuple(b.candidates)


# ---------------------------------------------------------------------------- same Problem, same model


def test_east_sussex_from_columns_is_the_same_problem_and_model() -> None:
    problem = east_sussex_2011()
    apps, variants, fields = to_columns(problem)
    built = Problem.from_columns(apps, variants=variants, **fields)
    assert built == problem and hash(built) == hash(problem)
    assert_same_model(compile_problem(built), compile_problem(problem))
    assert built.applications == problem.applications
    assert built.model_dump() == problem.model_dump()


@settings(max_examples=examples(60))
@given(problem=problems(max_apps=8))
def test_random_rounds_from_columns_are_the_same_problem_and_model(problem: Problem) -> None:
    apps, variants, fields = to_columns(problem)
    built = Problem.from_columns(apps, variants=variants, **fields)
    assert_same_model(compile_problem(built), compile_problem(problem))
    assert built == problem
    assert built.applications == problem.applications


def test_arrays_give_the_same_problem_as_lists() -> None:
    """Numbers as numpy arrays (2-D for social scores and yearly profiles), as `scaled` gives them."""
    problem = east_sussex_2011()
    apps, variants, fields = to_columns(problem)
    arrays: dict[str, Any] = dict(apps)
    for name, dtype in (("cost", np.int64), ("outcome_score", np.float64), ("beneficiaries", np.int64)):
        arrays[name] = np.array(apps[name], dtype=dtype)
    arrays["continues_service"] = np.array(apps["continues_service"])
    arrays["social_scores"] = np.array(apps["social_scores"])
    arrays["cost_profile"] = np.array(apps["cost_profile"], dtype=np.int64)
    assert Problem.from_columns(arrays, variants=variants, **fields) == problem


def test_scaled_is_built_from_columns_and_equals_the_object_way() -> None:
    problem = scaled(2)
    assert isinstance(problem.__dict__["applications"], Unbuilt)
    _, _, fields = scaled_columns(2)
    rng = np.random.default_rng(2011)
    geo = national_geography(rng, 2)
    draw = draw_round(rng, geo)
    by_objects = Problem(applications=build_applications(draw, geo, county_wide_empty=False), **fields)
    assert problem == by_objects
    assert_same_model(compile_problem(scaled(2)), compile_problem(by_objects))


def test_compile_reads_columns_without_making_application_objects() -> None:
    problem = scaled(1)
    model = compile_problem(problem)
    assert isinstance(problem.__dict__["applications"], Unbuilt)  # compile read only the columns
    assert len(problem.applications) == 173  # reading them makes the objects
    assert isinstance(problem.applications, tuple)
    assert all(type(a) is Application for a in problem.applications)
    assert tuple(model.candidates) == candidates(problem)
    assert model.candidates[-1] == candidates(problem)[-1]


def test_a_columnar_problem_pickles_hashes_and_dumps_like_the_object_one() -> None:
    problem = east_sussex_2011()
    apps, variants, fields = to_columns(problem)
    built = Problem.from_columns(apps, variants=variants, **fields)
    again = pickle.loads(pickle.dumps(built))
    assert isinstance(again.__dict__["applications"], Unbuilt)  # still columns
    assert again == problem and hash(again) == hash(problem)
    assert built.model_dump_json() == problem.model_dump_json()
    assert copy.deepcopy(built) == problem
    assert dict(built)["applications"] == problem.applications
    assert Problem.from_columns(apps, variants={}, **fields) == problem.replace(
        applications=[a.model_copy(update={"variants": ()}) for a in problem.applications]
    )
    with pytest.raises(Exception):  # noqa: B017 (pydantic's frozen-instance error)
        built.applications = ()  # type: ignore[misc]
    assert built.replace(name="other").applications == problem.applications


def test_dataframes_and_tables_give_the_same_problem() -> None:
    pd = pytest.importorskip("pandas")
    problem = east_sussex_2011()
    apps, variants, fields = to_columns(problem)
    frame, vframe = pd.DataFrame(apps), pd.DataFrame(variants)
    districts = pd.DataFrame([d.model_dump() for d in problem.districts])
    assert Problem.from_columns(frame, variants=vframe, **{**fields, "districts": districts}) == problem
    pa = pytest.importorskip("pyarrow")
    table = pa.Table.from_pandas(frame.drop(columns=["panel_scores"]))
    assert Problem.from_columns(table, variants=pa.Table.from_pandas(vframe), **fields) == problem


# ---------------------------------------------------------------------------- nothing mutated


def test_nothing_given_is_changed_and_the_problem_does_not_change_with_it() -> None:
    problem = east_sussex_2011()
    apps, variants, fields = to_columns(problem)
    arrays: dict[str, Any] = {
        **apps,
        "cost": np.array(apps["cost"]),
        "social_scores": np.array(apps["social_scores"]),
    }
    before = copy.deepcopy((arrays, variants))
    built = Problem.from_columns(arrays, variants=variants, **fields)
    assert repr((arrays, variants)) == repr(before)
    arrays["cost"][0] += 1  # the caller changes their arrays afterwards
    arrays["social_scores"][1, 0] = 0.0
    arrays["id"][2] = "changed"
    variants["cost"][0] += 1
    assert built == problem


def test_a_dataframe_is_not_changed() -> None:
    pd = pytest.importorskip("pandas")
    apps, variants, fields = to_columns(east_sussex_2011())
    frame = pd.DataFrame(apps)
    frame.loc[3, "beneficiaries"] = None  # a gap: pandas makes the column float
    kept = frame.copy(deep=True)
    with pytest.raises(InvalidProblemError):
        Problem.from_columns(frame, variants=pd.DataFrame(variants), **fields)
    pd.testing.assert_frame_equal(frame, kept)


# ---------------------------------------------------------------------------- errors, one per kind of malformed column


def _round() -> tuple[Columns, Columns, dict[str, Any]]:
    """A small valid round: three applications, one with two variants."""
    apps: Columns = {
        "id": ["A1", "A2", "A3"],
        "organisation": ["Mind", "Age UK", "Mind"],
        "client_groups": [("carers",), ("older",), ("carers", "older")],
        "districts": [("Hastings",), (), ("Hastings", "Rother")],
        "cost": [100_000, 250_000, 60_000],
        "cost_profile": [None, (125_000, 125_000), None],
        "outcome_score": [70.0, 64.5, 81.0],
        "social_scores": [(1.0, 2.0, 3.0, 4.0, 5.0, 0.0)] * 3,
        "beneficiaries": [10, None, 40],
        "continues_service": [True, False, False],
        "tags": [("user-led",), (), ()],
    }
    variants: Columns = {
        "application_id": ["A2", "A2"],
        "id": ["smaller", "one district"],
        "cost": [200_000, 150_000],
        "outcome_score": [60.0, None],
        "districts": [None, ("Rother",)],
    }
    fields = {
        "districts": [District(id="Hastings", population=90_254), District(id="Rother", population=90_588)],
        "client_groups": [ClientGroup(id="carers"), ClientGroup(id="older")],
        "budget": {"total": 400_000, "per_year": [200_000, 200_000]},
    }
    return apps, variants, fields


def test_the_small_round_is_valid_both_ways() -> None:
    apps, variants, fields = _round()
    assert Problem.from_columns(apps, variants=variants, **fields) == object_way(apps, variants, fields)


BAD_CELLS = [
    # (table, column, row, value, location after Problem.applications[i], words in the reason)
    ("applications", "cost", 1, "250000", ("cost",), "valid integer"),  # wrong type
    ("applications", "cost", 1, 2.5e5, ("cost",), "valid integer"),  # a float, however whole
    ("applications", "cost", 1, True, ("cost",), "valid integer"),
    ("applications", "cost", 1, float("nan"), ("cost",), "missing"),
    ("applications", "cost", 1, None, ("cost",), "missing"),
    ("applications", "cost", 1, -250_000, ("cost",), "greater than 0"),
    ("applications", "cost", 1, 10**13, ("cost",), "less than or equal"),
    ("applications", "outcome_score", 2, float("nan"), ("outcome_score",), "missing"),
    ("applications", "outcome_score", 2, float("inf"), ("outcome_score",), "finite"),
    ("applications", "outcome_score", 2, -1.0, ("outcome_score",), "greater than or equal"),
    ("applications", "outcome_score", 2, 101.0, ("outcome_score",), "outside the declared scale"),
    ("applications", "outcome_score", 2, "high", ("outcome_score",), "valid number"),
    ("applications", "id", 2, "A1", ("id",), "duplicate id 'A1'"),
    ("applications", "id", 2, " A3", ("id",), "leading or trailing spaces"),
    ("applications", "id", 2, "", ("id",), "at least 1 character"),
    ("applications", "id", 2, 3, ("id",), "valid string"),
    ("applications", "organisation", 0, "Mi\x00nd", ("organisation",), "U+0000"),
    ("applications", "districts", 0, ("Nowhere",), ("districts", 0), "unknown district 'Nowhere'"),
    ("applications", "districts", 0, ("Hastings", "Hastings"), ("districts",), "lists 'Hastings' twice"),
    ("applications", "districts", 0, ("Has;tings",), ("districts", 0), "';'"),
    ("applications", "districts", 0, "Hastings", ("districts",), "valid tuple"),
    ("applications", "client_groups", 1, (), ("client_groups",), "at least 1 item"),
    ("applications", "client_groups", 1, ("young",), ("client_groups", 0), "unknown client group 'young'"),
    ("applications", "social_scores", 0, (1.0, 2.0), ("social_scores",), "has 2 scores but there are 6"),
    ("applications", "social_scores", 0, (1.0, 2.0, 3.0, 4.0, 5.0, 6.0), ("social_scores", 5), "outside"),
    ("applications", "social_scores", 0, (1.0, 2.0, 3.0, 4.0, 5.0, math.nan), ("social_scores", 5), "finite"),
    ("applications", "cost_profile", 1, (125_000, 124_999), ("cost_profile",), "sums to 249999"),
    ("applications", "cost_profile", 1, (250_000,), ("cost_profile",), "has 1 years but the budget has 2"),
    ("applications", "cost_profile", 1, (-1, 250_001), ("cost_profile",), ">= 0"),
    ("applications", "beneficiaries", 0, -3, ("beneficiaries",), "greater than or equal to 0"),
    ("applications", "beneficiaries", 0, 10.0, ("beneficiaries",), "valid integer"),
    ("applications", "continues_service", 1, 1, ("continues_service",), "valid boolean"),
    ("applications", "tags", 0, ("user-led", "user-led"), ("tags",), "twice"),
    ("applications", "title", 0, "ok\x07", ("title",), "U+0007"),
    (
        "applications",
        "panel_scores",
        0,
        {"north": 150.0},
        ("panel_scores", "north", "outcome_score"),
        "outside",
    ),
    ("variants", "cost", 0, 0, ("variants", 0, "cost"), "greater than 0"),
    ("variants", "districts", 1, ("Nowhere",), ("variants", 1, "districts", 0), "unknown district"),
    ("variants", "id", 1, "smaller", ("variants",), "variant ids must be unique"),
    ("variants", "id", 1, "A2", ("variants",), "differ from the application id"),
    ("variants", "outcome_score", 1, 500.0, ("variants", 1, "outcome_score"), "outside the declared scale"),
]


@pytest.mark.parametrize(("table", "column", "row", "value", "where", "words"), BAD_CELLS)
def test_a_malformed_cell_is_named_by_row_and_field(
    table: str, column: str, row: int, value: Any, where: tuple[Any, ...], words: str
) -> None:
    apps, variants, fields = _round()
    cells = apps if table == "applications" else variants
    cells.setdefault(column, [None] * len(cells["id"]))[row] = value
    with pytest.raises(InvalidProblemError) as columnar:
        Problem.from_columns(apps, variants=variants, **fields)
    parent = row if table == "applications" else ["A1", "A2", "A3"].index(variants["application_id"][row])
    assert columnar.value.loc == ("Problem", "applications", parent, *where)
    assert words in columnar.value.reason
    app_id = apps["id"][parent]
    if isinstance(app_id, str) and "duplicate" not in words:
        assert f"application {app_id!r}" in columnar.value.reason
    with pytest.raises(InvalidProblemError) as objects:
        object_way(apps, variants, fields)
    assert objects.value.loc == columnar.value.loc  # the same place as object by object
    if _given(value):
        assert columnar.value.reason.startswith(objects.value.reason.split("; and ")[0])


def test_score_beneficiaries_needs_them_in_every_row() -> None:
    apps, variants, fields = _round()
    fields["weights"] = Weights(value_form="score_beneficiaries")
    with pytest.raises(InvalidProblemError, match=r"applications\[1\].beneficiaries: is required"):
        Problem.from_columns(apps, variants=variants, **fields)


def test_a_float_column_of_whole_numbers_is_refused_with_a_hint() -> None:
    apps, variants, fields = _round()
    arrays = {**apps, "beneficiaries": np.array([10.0, np.nan, 40.0])}  # pandas' int column with a gap
    with pytest.raises(InvalidProblemError) as err:
        Problem.from_columns(arrays, variants=variants, **fields)
    assert err.value.loc == ("Problem", "applications", 0, "beneficiaries")
    assert "integer type" in err.value.reason


def test_a_dataframe_row_is_named_by_its_index_label() -> None:
    pd = pytest.importorskip("pandas")
    apps, variants, fields = _round()
    apps["cost"][2] = -1
    frame = pd.DataFrame(apps, index=["x", "y", "z"]).astype({"beneficiaries": "Int64"})  # ints with a gap
    with pytest.raises(InvalidProblemError) as err:
        Problem.from_columns(frame, variants=variants, **fields)
    assert err.value.loc == ("Problem", "applications", 2, "cost")
    assert "(application 'A3', index label 'z')" in err.value.reason


@pytest.mark.parametrize(
    ("change", "loc", "words"),
    [
        (
            lambda a, v: a.update(colour=["red"] * 3),
            ("applications", "colour"),
            "not a column of applications",
        ),
        (lambda a, v: a.update(variants=[()] * 3), ("applications", "variants"), "their own table"),
        (lambda a, v: a.pop("cost"), ("applications", "cost"), "missing (a required column)"),
        (lambda a, v: a.update(title=["t"] * 2), ("applications", "title"), "has 2 rows but id has 3"),
        (lambda a, v: v["application_id"].__setitem__(1, "A9"), ("variants", 1, "application_id"), "unknown"),
        (lambda a, v: a.update(cost=np.int64(5)), ("applications", "cost"), "must be a column"),
        (lambda a, v: [c.clear() for c in a.values()], ("Problem", "applications"), "no rows"),
    ],
)
def test_a_malformed_table_is_named_by_column(change: Any, loc: tuple[Any, ...], words: str) -> None:
    apps, variants, fields = _round()
    change(apps, variants)
    with pytest.raises(InvalidProblemError) as err:
        Problem.from_columns(apps, variants=variants, **fields)
    assert err.value.loc == loc
    assert words in err.value.reason


def test_other_fields_are_checked_as_problem_checks_them() -> None:
    apps, variants, fields = _round()
    with pytest.raises(InvalidProblemError, match=r"Problem.budget.total: Input should be greater than 0"):
        Problem.from_columns(apps, variants=variants, **{**fields, "budget": {"total": -1}})
    with pytest.raises(InvalidProblemError, match=r"Problem.colour: Extra inputs are not permitted"):
        Problem.from_columns(apps, variants=variants, colour="red", **fields)
    with pytest.raises(
        InvalidProblemError, match=r"Problem.rules\[0\].application: unknown application 'A9'"
    ):
        Problem.from_columns(apps, variants=variants, rules=[{"kind": "lock", "application": "A9"}], **fields)
    not_a_table = "applications.csv"
    with pytest.raises(InvalidProblemError, match="must be a mapping of column name to array"):
        Problem.from_columns(not_a_table, **fields)


def test_every_character_no_file_can_store_is_unprintable() -> None:
    """The screens clear text with `str.isprintable` before searching it for such characters."""
    every = "".join(map(chr, range(0x110000)))
    found = set(schema._UNSTORABLE.findall(every))
    assert len(found) > 2000
    assert not any(c.isprintable() for c in found)


# ---------------------------------------------------------------------------- any malformed cell, both ways

NASTY = [
    None, math.nan, math.inf, -1, 0, 1, 2.5, 10**13, 10**30, True, "", " x", "x", "a;b", "ok\x00", "Hastings",
    (), ("Hastings",), ("Hastings", "Hastings"), ("nowhere",), ("carers",), ("carers", "older"), (1, 2),
    (0.0,) * 6, (9.0,) * 6, (-1.0,) * 6, (1.0, 2.0), [0.5] * 6, {}, {"north": 1.0}, {"north": "x"}, [["x"]],
]  # fmt: skip


@settings(max_examples=examples(150))
@given(
    problem=problems(max_apps=5, max_rules=2),
    data=st.data(),
)
def test_any_malformed_cell_gets_the_object_ways_verdict(problem: Problem, data: st.DataObject) -> None:
    """A cell replaced by something odd: both ways refuse it at the same place, or both accept it
    as the same Problem. Every check object by object is made on columns too."""
    apps, variants, fields = to_columns(problem)
    table = apps if not variants["id"] or data.draw(st.booleans()) else variants
    column = data.draw(st.sampled_from([c for c in table if c != "application_id"]))
    row = data.draw(st.integers(0, len(table["id"]) - 1))
    value = data.draw(st.sampled_from(NASTY))
    if table is apps and column == "id":  # its variants follow it
        old = apps["id"][row]
        variants["application_id"] = [value if a == old else a for a in variants["application_id"]]
    table[column][row] = value
    note(f"{'applications' if table is apps else 'variants'}[{row}].{column} = {value!r}")
    try:
        expected: Problem | InvalidProblemError = object_way(apps, variants, fields)
    except InvalidProblemError as exc:
        expected = exc
    if data.draw(st.booleans()):  # numbers as numpy arrays where they hold the same values
        apps = {k: _as_array(c) for k, c in apps.items()}
        variants = {k: _as_array(c) for k, c in variants.items()}
        note(f"arrays: {[k for k, c in {**apps, **variants}.items() if isinstance(c, np.ndarray)]}")
    try:
        got: Problem | InvalidProblemError = Problem.from_columns(apps, variants=variants, **fields)
    except InvalidProblemError as exc:
        got = exc
    if isinstance(expected, Problem):
        assert got == expected
        assert_same_model(compile_problem(got), compile_problem(expected))  # type: ignore[arg-type]
    else:
        assert isinstance(got, InvalidProblemError), f"columns accepted what objects refuse: {expected}"
        assert got.loc == expected.loc
        if _given(value):
            assert got.reason.startswith(expected.reason.split("; and ")[0].split(" (application")[0])
