"""Social-value proxies: loading a user table and estimating pounds exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocate import Application, Budget, ClientGroup, District, InvalidProblemError, Problem, solve
from allocate.io.proxies import load_proxies, social_value_in_pounds

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "social_value_proxies_example.csv"


def _problem() -> Problem:
    apps = [
        Application(
            id="A",
            organisation="o1",
            client_groups=("g",),
            cost=300_00,
            cost_profile=(100_00, 100_00, 100_00),
            outcome_score=70,
            social_scores=(1, 2, 3, 4, 5, 0),
        ),
        Application(
            id="B",
            organisation="o2",
            client_groups=("g",),
            cost=100_00,
            cost_profile=(100_00, 0, 0),
            outcome_score=60,
            social_scores=(5, 5, 5, 5, 5, 5),
        ),
    ]
    return Problem(
        applications=apps,
        districts=[District(id="d", population=10)],
        client_groups=[ClientGroup(id="g")],
        budget=Budget(total=600_00, per_year=(200_00, 200_00, 200_00)),
    )


def test_example_table_loads_and_estimates_exact_pence() -> None:
    table = load_proxies(EXAMPLE)
    assert [p.pence_per_point for p in table.proxies] == [15000, 12000, 20000, 9000, 6000, 10000]
    problem = _problem()
    est = social_value_in_pounds(problem, solve(problem), table)
    # A: (1*150 + 2*120 + 3*200 + 4*90 + 5*60 + 0*100) £ per year x 3 years = £1,650 x 3
    assert est.per_award["A"] == 1_650_00 * 3
    # B: 5 x (150+120+200+90+60+100) = £3,600, one funded year
    assert est.per_award["B"] == 3_600_00
    assert est.total == est.per_award["A"] + est.per_award["B"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("objective,pounds_per_point\nSC1,12.345\n", ("row 2", "pounds_per_point")),
        ("objective,pounds_per_point\nSC1,abc\n", ("row 2", "not a number")),
        ("objective,pounds_per_point\n,5\n", ("row 2", "objective")),
        ("objective,source\nSC1,x\n", ("row 2", "missing")),
        ("objective,pounds_per_point\n", ("no proxy rows",)),
    ],
)
def test_bad_tables_name_row_and_column(tmp_path: Path, text: str, words: tuple[str, ...]) -> None:
    f = tmp_path / "p.csv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidProblemError) as info:
        load_proxies(f)
    for w in words:
        assert w in str(info.value)


def test_missing_objective_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text("objective,pounds_per_point\nSC1,1\n", encoding="utf-8")
    problem = _problem()
    with pytest.raises(InvalidProblemError, match="SC2"):
        social_value_in_pounds(problem, solve(problem), load_proxies(f))
