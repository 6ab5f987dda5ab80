"""Loaders of benchmark data: Pabulib ``.pb`` files and OR-Library MKP files.

Reference optima are copied here (see tests/data/README.md); tests read only tests/data.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from allocate import InvalidProblemError, Problem, solve
from allocate.scenarios.orlib import load_mknap, mknap_profit, mknap_reference, read_mknap
from allocate.scenarios.pabulib import load_pabulib, pabulib_welfare

DATA = Path(__file__).parent / "data"
TOULOUSE = (
    DATA / "France_Toulouse_2022_5_-_Saint-Michel_Saint-Agne_Empalot_Le_Busca_Ile_du_Ramier_Monplaisir.pb"
)
GDANSK = DATA / "Poland_Gdansk_2020_Vii_Dwor.pb"
MKNAP1 = DATA / "mknap1.txt"

# Exact 0-1 knapsack optima (max votes) from the benchmark index, and the stated mknap1 optima.
TOULOUSE_OPT_VOTES, TOULOUSE_OPT_COST_EUR = 600, 373_000
GDANSK_OPT_VOTES, GDANSK_OPT_COST_PLN = 222, 165_900
MKNAP1_OPTIMA = {
    "mknap1-0": Decimal("3800"),
    "mknap1-1": Decimal("8706.1"),
    "mknap1-2": Decimal("4015"),
    "mknap1-3": Decimal("6120"),
    "mknap1-4": Decimal("12400"),
    "mknap1-5": Decimal("10618"),
    "mknap1-6": Decimal("16537"),
}
BACKENDS = ("highs", "cpsat")


def brute_force_welfare(problem: Problem) -> Decimal:
    """Best total outcome score over every subset that meets every yearly and total limit."""
    apps = problem.applications
    limits = problem.budget.per_year or (problem.budget.total,)
    best = Decimal(0)
    for r in range(len(apps) + 1):
        for subset in itertools.combinations(apps, r):
            profiles = [a.cost_profile or (a.cost,) for a in subset]
            if sum(a.cost for a in subset) > problem.budget.total:
                continue
            if any(sum(p[y] for p in profiles) > lim for y, lim in enumerate(limits)):
                continue
            best = max(best, sum((Decimal(repr(a.outcome_score)) for a in subset), Decimal(0)))
    return best


# -- Pabulib -------------------------------------------------------------------------------


def test_pabulib_maps_projects_to_applications() -> None:
    problem = load_pabulib(TOULOUSE)
    assert problem.name == TOULOUSE.stem
    assert len(problem.applications) == 10
    first = problem.applications[0]
    assert (first.id, first.cost, first.outcome_score) == ("157", 7_000_000, 128.0)
    assert first.title.startswith("Plantation d'arbres")
    assert first.client_groups == ("Nature en ville",)
    assert problem.budget.total == 40_000_000
    assert problem.budget.per_year is None
    assert [d.id for d in problem.districts] == [
        "5 - Saint-Michel / Saint-Agne / Empalot / Le Busca / Ile du Ramier / Monplaisir"
    ]
    assert {g.id for g in problem.client_groups} == {
        "Nature en ville",
        "Cadre de vie",
        "Énergie",
        "Déchets et Recyclage",
    }
    assert problem.weights.value_form == "score_sum"
    assert problem.weights.social_value_share == 0.0
    assert problem.scale.outcome_max == 178.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_pabulib_optimum_matches_reference(backend: str) -> None:
    problem = load_pabulib(TOULOUSE)
    allocation = solve(problem, backend)
    assert allocation.status == "optimal"
    assert pabulib_welfare(allocation, problem) == TOULOUSE_OPT_VOTES
    assert allocation.total == TOULOUSE_OPT_COST_EUR * 100
    # value is 100·votes/max_votes, so maximising value maximised votes
    assert allocation.value == pytest.approx(100 * TOULOUSE_OPT_VOTES / 178)


def test_pabulib_cumulative_ballots_sum_points() -> None:
    points = load_pabulib(GDANSK)
    assert [a.outcome_score for a in points.applications] == [704, 440, 280, 231, 26]
    assert [d.id for d in points.districts] == ["Vii Dwór"]
    assert [g.id for g in points.client_groups] == ["all"]
    allocation = solve(points)
    assert pabulib_welfare(allocation, points) == brute_force_welfare(points) == 746

    votes = load_pabulib(GDANSK, tally="column")
    assert [a.outcome_score for a in votes.applications] == [181, 122, 85, 79, 15]
    allocation = solve(votes)
    assert pabulib_welfare(allocation, votes) == GDANSK_OPT_VOTES
    assert allocation.total == GDANSK_OPT_COST_PLN * 100


def test_pabulib_ballot_tally_equals_votes_column_for_approval() -> None:
    by_column = load_pabulib(TOULOUSE, tally="column")
    by_ballots = load_pabulib(TOULOUSE, tally="ballots")
    assert [a.outcome_score for a in by_column.applications] == [
        a.outcome_score for a in by_ballots.applications
    ]


def test_pabulib_welfare_of_ids_and_unknown_id() -> None:
    problem = load_pabulib(TOULOUSE)
    assert pabulib_welfare(["157", "148"], problem) == 152
    with pytest.raises(KeyError):
        pabulib_welfare(["nope"], problem)


SMALL_PB = """META
key;value
description;test
unit;Testville
budget;100.50
vote_type;{vote_type}
PROJECTS
project_id;cost;votes;name;category;district
1;40;3;One;Parks,Roads;North
2;60.25;2;Two;;South
3;30;4;"Three; with a semicolon";Roads;none
VOTES
voter_id;vote{points_header}
v1;1,3{points1}
v2;1,2,3{points2}
v3;3{points3}
v4;1,2,3{points2}
"""


def small_pb(vote_type: str = "approval") -> str:
    if vote_type in ("cumulative", "scoring"):
        return SMALL_PB.format(
            vote_type=vote_type,
            points_header=";points",
            points1=";2,1",
            points2=";1,1,1",
            points3=";5",
        )
    return SMALL_PB.format(vote_type=vote_type, points_header="", points1="", points2="", points3="")


def write(tmp_path: Path, text: str, name: str = "case.pb") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_pabulib_small_file_districts_groups_and_quotes(tmp_path: Path) -> None:
    problem = load_pabulib(write(tmp_path, small_pb()))
    assert [a.cost for a in problem.applications] == [4000, 6025, 3000]
    assert problem.budget.total == 10050
    assert [a.districts for a in problem.applications] == [("North",), ("South",), ()]
    assert [a.client_groups for a in problem.applications] == [
        ("Parks", "Roads"),
        ("uncategorised",),
        ("Roads",),
    ]
    assert [d.id for d in problem.districts] == ["North", "South"]
    assert problem.applications[2].title == "Three; with a semicolon"
    allocation = solve(problem)
    assert pabulib_welfare(allocation, problem) == brute_force_welfare(problem) == 7


def test_pabulib_multi_district_projects(tmp_path: Path) -> None:
    text = small_pb().replace("Roads;North", "Roads;North, South ,")
    problem = load_pabulib(write(tmp_path, text))
    assert problem.applications[0].districts == ("North", "South")
    assert [d.id for d in problem.districts] == ["North", "South"]


def test_pabulib_points_from_ballots(tmp_path: Path) -> None:
    problem = load_pabulib(write(tmp_path, small_pb("cumulative")))
    assert [a.outcome_score for a in problem.applications] == [4, 2, 8]


# (file text transformation, expected line or None, field named in the error)
MALFORMED: dict[str, tuple[Callable[[str], str], int | None, str]] = {
    "cost not a number": (lambda t: t.replace("1;40;3", "1;forty;3"), 9, "PROJECTS.cost"),
    "cost zero": (lambda t: t.replace("1;40;3", "1;0;3"), 9, "PROJECTS.cost"),
    "cost fraction of a cent": (lambda t: t.replace("1;40;3", "1;40.001;3"), 9, "PROJECTS.cost"),
    "votes not a number": (lambda t: t.replace("1;40;3", "1;40;lots"), 9, "PROJECTS.votes"),
    "votes negative": (lambda t: t.replace("1;40;3", "1;40;-3"), 9, "PROJECTS.votes"),
    "budget not a number": (lambda t: t.replace("budget;100.50", "budget;much"), 5, "META.budget"),
    "budget missing": (lambda t: t.replace("budget;100.50\n", ""), None, "META.budget"),
    "meta without value": (lambda t: t.replace("unit;Testville", "unit"), 4, "META.unit"),
    "duplicate project": (lambda t: t.replace("2;60.25", "1;60.25"), 10, "PROJECTS.project_id"),
    "missing project id": (lambda t: t.replace("2;60.25", ";60.25"), 10, "PROJECTS.project_id"),
    "too many fields": (lambda t: t.replace("Roads;North", "Roads;North;extra"), 9, "PROJECTS"),
    "unknown vote type": (lambda t: t.replace("approval", "lottery"), 6, "META.vote_type"),
    "no section": (lambda t: "hello;world\n" + t, 1, "section"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_pabulib_malformed_input_names_file_line_and_field(tmp_path: Path, case: str) -> None:
    change, line, field = MALFORMED[case]
    path = write(tmp_path, change(small_pb()))
    with pytest.raises(InvalidProblemError) as info:
        load_pabulib(path)
    where = f"case.pb:{line} " if line is not None else "case.pb "
    assert info.value.field.startswith(where), info.value.field
    assert field in info.value.field


def test_pabulib_malformed_ballots_name_line_and_field(tmp_path: Path) -> None:
    text = small_pb().replace("v3;3", "v3;99")
    with pytest.raises(InvalidProblemError, match=r"case\.pb:16 VOTES\.vote: unknown project '99'"):
        load_pabulib(write(tmp_path, text), tally="ballots")
    # the votes column is used by default for approval files, so the ballots are not read
    assert load_pabulib(write(tmp_path, text)).applications[0].outcome_score == 3
    text = small_pb("cumulative").replace("v3;3;5", "v3;3;5,1")
    with pytest.raises(InvalidProblemError, match=r"case\.pb:16 VOTES\.points: has 2 values for 1"):
        load_pabulib(write(tmp_path, text))
    text = small_pb("cumulative").replace("v3;3;5", "v3;3;five")
    with pytest.raises(InvalidProblemError, match=r"case\.pb:16 VOTES\.points: 'five' is not a number"):
        load_pabulib(write(tmp_path, text))


def test_pabulib_missing_votes_column(tmp_path: Path) -> None:
    text = small_pb().replace("project_id;cost;votes;", "project_id;cost;tally;")
    with pytest.raises(InvalidProblemError, match=r"PROJECTS\.votes: column is missing"):
        load_pabulib(write(tmp_path, text), tally="column")
    # by default the ballots are counted instead
    assert [a.outcome_score for a in load_pabulib(write(tmp_path, text)).applications] == [3, 2, 4]


# -- OR-Library MKP --------------------------------------------------------------------------


def test_mknap1_loads_as_yearly_budgets() -> None:
    problems = load_mknap(MKNAP1)
    assert [p.name for p in problems] == list(MKNAP1_OPTIMA)
    first = problems[0]
    assert len(first.applications) == 6
    assert first.budget.per_year == (80, 96, 20, 36, 44, 48, 10, 18, 22, 24)
    assert first.budget.total == sum(first.budget.per_year)
    item = first.applications[0]
    assert item.cost_profile == (8, 8, 3, 5, 5, 5, 0, 3, 3, 3)
    assert item.cost == sum(item.cost_profile)
    assert item.outcome_score == 100.0
    assert first.scale.outcome_max == 2400.0
    assert problems[1].applications[0].outcome_score == 600.1


def test_mknap1_reference_values() -> None:
    ref = mknap_reference(MKNAP1)
    assert {k: r.value for k, r in ref.items()} == MKNAP1_OPTIMA
    assert all(r.kind == "optimum" for r in ref.values())


@pytest.mark.parametrize("backend", ["highs", "cpsat"])
def test_mknap1_optima_are_matched(backend: str) -> None:
    for problem in load_mknap(MKNAP1):
        allocation = solve(problem, backend)
        assert allocation.status == "optimal", problem.name
        assert mknap_profit(allocation, problem) == MKNAP1_OPTIMA[problem.name], problem.name


WEING1 = """ Free text before the first problem is ignored, even a problem. word.
 +++++++++++++++++++++++++++++

 problem WEING1.DAT

 +++++++++++++++++++++++++++++
 2 28
 1898 440 22507 270 14148 3100 4650 30800 615 4975
 1160 4225 510 11880 479 440 490 330 110 560
 24355 2885 11748 4550 750 3720 1950 10500
 600 600
 45 0 85 150 65 95 30 0 170 0
 40 25 20 0 0 25 0 0 25 0
 165 0 85 0 0 0 0 100
 30 20 125 5 80 25 35 73 12 15
 15 40 5 10 10 12 10 9 0 20
 60 40 50 36 49 40 19 150

 141278
"""


def test_mknap2_format_and_optimum(tmp_path: Path) -> None:
    path = write(tmp_path, WEING1, "mknap2.txt")
    (problem,) = load_mknap(path)
    assert problem.name == "WEING1.DAT"
    assert problem.budget.per_year == (600, 600)
    assert len(problem.applications) == 28
    assert mknap_reference(path)["WEING1.DAT"].value == 141278
    allocation = solve(problem)
    assert mknap_profit(allocation, problem) == 141278


def test_mkcbres_reference_table(tmp_path: Path) -> None:
    text = (
        "Problem Name        Best Feasible Solution Value\n\n5.100-00   24381\n5.100-01  24274\n\n"
        "Problem Name     LP optimal\n\n5.100-00        2.4585902722e+04\n5.100-01  2.4538208990e+04\n"
    )
    ref = mknap_reference(write(tmp_path, text, "mkcbres.txt"))
    assert ref["5.100-00"].value == 24381
    assert ref["5.100-00"].kind == "best_known"
    assert ref["5.100-01"].lp_bound == pytest.approx(24538.20899)


def test_mknapcb_names_follow_mkcbres(tmp_path: Path) -> None:
    text = "2\n3 2 0\n5 4 3\n1 2 3\n3 2 1\n4 4\n3 2 0\n1 1 1\n1 1 1\n1 1 1\n2 2\n"
    problems = load_mknap(write(tmp_path, text, "mknapcb1.txt"))
    assert [p.name for p in problems] == ["2.3-00", "2.3-01"]
    assert mknap_reference(write(tmp_path, text, "mknapcb1.txt")) == {}


def test_mknap_zero_items_zero_capacity_and_decimals_keep_the_optimum(tmp_path: Path) -> None:
    # item 2 weighs nothing anywhere; constraint 3 has capacity 0 (so items 0 and 3 are out);
    # capacities have decimals.
    text = "1\n5 3 0\n10 7 5 9 4\n2 3 0 1 2.5\n1 2 0 4 1\n1 0 0 1 0\n5.5 4 0\n"
    path = write(tmp_path, text, "odd.txt")
    (problem,) = load_mknap(path)
    (data,) = read_mknap(path)
    assert all(a.cost > 0 for a in problem.applications)
    # the exact optimum of the raw data: items 1, 2, 4 (profit 16); check by enumeration
    best = Decimal(0)
    for r in range(6):
        for s in itertools.combinations(range(5), r):
            if all(sum(data.weights[i][j] for j in s) <= data.capacities[i] for i in range(3)):
                best = max(best, sum((data.profits[j] for j in s), Decimal(0)))
    assert best == 16
    assert brute_force_welfare(problem) == best
    allocation = solve(problem)
    assert mknap_profit(allocation, problem) == best
    assert allocation.funded == {"item1", "item2", "item4"}


MKNAP_MALFORMED: dict[str, tuple[str, str, str]] = {
    "not a number": ("1\n2 1 0\n5 x\n1 1\n2\n", "bad.txt:3 problem[0].profit[1]", "'x' is not a number"),
    "ends early": ("1\n2 1 0\n5 4\n1 1\n", "bad.txt:4 problem[0].capacity[0]", "is missing"),
    "negative": ("1\n2 1 0\n5 4\n1 -1\n2\n", "bad.txt:4 problem[0].weight[0][1]", "must be >= 0"),
    "bad count": ("1\n2.5 1 0\n5 4\n1 1\n2\n", "bad.txt:2 problem[0].n", "whole number"),
    "trailing data": ("1\n2 1 0\n5 4\n1 1\n2\n7\n", "bad.txt:6 end of file", "unexpected '7'"),
}


@pytest.mark.parametrize("case", sorted(MKNAP_MALFORMED))
def test_mknap_malformed_input_names_file_line_and_field(tmp_path: Path, case: str) -> None:
    text, field, reason = MKNAP_MALFORMED[case]
    with pytest.raises(InvalidProblemError) as info:
        load_mknap(write(tmp_path, text, "bad.txt"))
    assert info.value.field == field
    assert reason in info.value.reason
