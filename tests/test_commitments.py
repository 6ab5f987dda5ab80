"""Commitments from earlier rounds (issue 12 part 4): budget, caps, coverage, equality gaps,
spend targets and no-new-gaps, in the rows, the verifier, brute force and the files.

The round: two years of £500 each; four bids, value = outcome score (score_sum), even profiles.

    bid  org  cost  score  serves
    A    O1   £400  90     East:carers
    B    O2   £400  80     West:carers
    C    O2   £200  70     East:older
    D    O3   £200  40     West:older

A commitment of O1 pays £100 + £100 and serves East:carers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, note, settings

import allocate
from allocate import (
    Application,
    Budget,
    ClientGroup,
    Commitment,
    Coverage,
    District,
    EqualityGap,
    InvalidProblemError,
    MinSpend,
    NoNewGaps,
    OrganisationCap,
    Problem,
    Weights,
    commitments_from,
    compile_problem,
    solve,
    verify,
)
from allocate.io import read_problem, write_problem
from brute import brute_force
from strategies import examples, problems

BACKENDS = allocate.BACKENDS
POUND = 100


def round_(*rules: Any, commitments: tuple[Commitment, ...] = ()) -> Problem:
    bids = {
        "A": ("O1", 400, 90.0, "East", "carers"),
        "B": ("O2", 400, 80.0, "West", "carers"),
        "C": ("O2", 200, 70.0, "East", "older"),
        "D": ("O3", 200, 40.0, "West", "older"),
    }
    return Problem(
        applications=tuple(
            Application(
                id=k, organisation=o, client_groups=(g,), districts=(d,), cost=c * POUND, outcome_score=s
            )
            for k, (o, c, s, d, g) in bids.items()
        ),
        districts=(District(id="East", population=1), District(id="West", population=1)),
        client_groups=(ClientGroup(id="carers"), ClientGroup(id="older")),
        budget=Budget(total=1000 * POUND, per_year=(500 * POUND, 500 * POUND)),
        rules=rules,
        weights=Weights(social_value_share=0.0, value_form="score_sum"),
        commitments=commitments,
    )


def held(*counts: str, amounts: tuple[int, int] = (100 * POUND, 100 * POUND)) -> Commitment:
    return Commitment(
        id="2011:A",
        organisation="O1",
        amounts=amounts,
        client_groups=("carers",),
        districts=("East",),
        counts_toward=counts,  # type: ignore[arg-type]
    )


def funded(problem: Problem, backend: str) -> set[str]:
    a = solve(problem, backend)
    assert a.status == "optimal" and verify(problem, [(w.application, w.variant) for w in a.awards]).ok
    best = brute_force(problem)
    assert best.value == pytest.approx(a.value)
    return set(a.funded)


@pytest.mark.parametrize("backend", BACKENDS)
def test_commitments_reduce_each_years_budget(backend: str) -> None:
    assert funded(round_(), backend) == {"A", "B", "C"}  # £1,000 of £1,000
    assert funded(round_(commitments=(held(),)), backend) == {"A", "C", "D"}  # £800 of £800 left
    a = solve(round_(commitments=(held(),)), backend)
    year1 = next(r for r in a.rules_report if r.label == "Budget[year=1]")
    assert (year1.achieved, year1.limit) == (500 * POUND, 500 * POUND)  # £400 new + £100 committed


def test_compiled_budget_rows_are_shifted_by_exact_pence() -> None:
    odd = held(amounts=(12_345, 1))
    m = compile_problem(round_(commitments=(odd,)))
    stated = dict(zip(m.row_labels, m.stated_hi, strict=True))
    assert stated["Budget[total]"] == 1000 * POUND - 12_346
    assert stated["Budget[year=1]"] == 500 * POUND - 12_345 and stated["Budget[year=2]"] == 500 * POUND - 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_organisation_caps_count_commitments_only_when_asked(backend: str) -> None:
    cap = OrganisationCap(organisation="O1", max_amount=400 * POUND)
    assert "A" in funded(round_(cap, commitments=(held(),)), backend)
    assert "A" not in funded(round_(cap, commitments=(held("organisation_cap"),)), backend)
    awards = OrganisationCap(organisation="O1", max_awards=1)
    assert "A" not in funded(round_(awards, commitments=(held("organisation_cap"),)), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_coverage_and_equality_gaps_count_committed_money_and_awards(backend: str) -> None:
    # West must get at least 70% of the money: B+C+D (£600 of £800) does; with the commitment's
    # £200 to East counted (£600 of £1,000) it does not, and only B+D is left.
    gap = Coverage(over="district", key="West", min_share=0.7)
    assert funded(round_(gap, commitments=(held(),)), backend) == {"B", "C", "D"}
    assert funded(round_(gap, commitments=(held("coverage"),)), backend) == {"B", "D"}
    equal = EqualityGap(over="district", basis="population", tolerance=0.1)
    assert funded(round_(equal, commitments=(held("equality_gap"),)), backend) <= {"A", "B", "C", "D"}
    # One award to East:carers is enough, and the commitment is one.
    count = Coverage(over="cell", key="East:carers", min_count=1, max_count=1)
    assert "A" not in funded(round_(count, commitments=(held("coverage"),)), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_spend_targets_count_commitments_when_asked(backend: str) -> None:
    target = MinSpend(year="each", min_amount=500 * POUND)
    # Without counting, £500 a year must be new money: £1,000 of bids, but only £800 is left.
    assert solve(round_(target, commitments=(held(),)), backend).status == "infeasible"
    assert funded(round_(target, commitments=(held("min_spend"),)), backend) == {"A", "C", "D"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_commitment_cells_are_served_today_and_stay_served(backend: str) -> None:
    # A is the only bid serving East:carers; the commitment serves it, so it is not a new gap.
    mark = NoNewGaps()
    p = round_(mark, commitments=(held(),))
    assert mark.served_today(p) == ["East:carers"]
    a = solve(p.replace(budget=Budget(total=600 * POUND, per_year=(300 * POUND, 300 * POUND))), backend)
    row = next(r for r in a.rules_report if r.label == "NoNewGaps[East:carers]")
    assert row.ok and row.achieved >= 1
    listed = round_(NoNewGaps(cells=("West:older",)), commitments=(held(),))
    assert "D" in funded(listed, backend)


def test_commitments_are_validated_with_field_and_reason() -> None:
    with pytest.raises(
        InvalidProblemError, match=r"commitments\[0\]\.amounts: has 1 years but the budget has 2"
    ):
        round_(commitments=(held().model_copy(update={"amounts": (1,)}),))
    with pytest.raises(
        InvalidProblemError, match=r"commitments\[0\]\.districts\[0\]: unknown district 'North'"
    ):
        round_(commitments=(held().model_copy(update={"districts": ("North",)}),))
    with pytest.raises(
        InvalidProblemError, match=r"Problem\.commitments: commit 60000 pence in budget year 1"
    ):
        round_(commitments=(held(amounts=(600 * POUND, 0)),))
    with pytest.raises(InvalidProblemError, match=r"counts_toward"):
        Commitment(id="x", organisation="o", amounts=(1,), client_groups=("g",), counts_toward=("budget",))  # type: ignore[arg-type]


@pytest.mark.parametrize("dest", ["p.json", "p.xlsx", "folder"])
@pytest.mark.parametrize("money", ["pence", "pounds"])
def test_commitments_round_trip_through_every_format(tmp_path: Path, dest: str, money: str) -> None:
    p = round_(commitments=(held("coverage", "organisation_cap", amounts=(12_345, 1)),))
    if dest == "p.json":
        (tmp_path / dest).write_text(p.model_dump_json())
    else:
        write_problem(p, tmp_path / dest, money=money)
    assert read_problem(tmp_path / dest) == p


def test_commitments_from_carries_the_later_years() -> None:
    p = round_()
    a = solve(p)
    later = commitments_from(a, p, years=2)
    assert [(c.id, c.amounts) for c in later] == [
        ("A", (200 * POUND, 0)),
        ("B", (200 * POUND, 0)),
        ("C", (100 * POUND, 0)),
    ]
    assert later[0].districts == ("East",) and later[0].client_groups == ("carers",)


@pytest.mark.parametrize(("kwargs", "field"), [({"years_later": -1}, "years_later"), ({"years": 0}, "years")])
def test_commitments_from_names_a_bad_argument(kwargs: dict[str, int], field: str) -> None:
    p = round_()
    with pytest.raises(InvalidProblemError, match=rf"commitments_from\.{field}"):
        commitments_from(solve(p), p, **kwargs)


def test_commitments_from_refuses_another_rounds_allocation() -> None:
    p = round_()
    other = p.replace(applications=p.applications[:1])
    with pytest.raises(InvalidProblemError, match=r"commitments_from\.allocation: is not of this problem"):
        commitments_from(solve(p), other)


@settings(max_examples=examples(25))
@given(problems(max_apps=6, max_combinations=4_000).filter(lambda p: bool(p.commitments)))
def test_every_backend_matches_brute_force_with_commitments(problem: Problem) -> None:
    note(problem.model_dump_json())
    best = brute_force(problem)
    for backend in BACKENDS:
        a = solve(problem, backend)
        if best.value is None:
            assert a.status == "infeasible"
        else:
            assert a.status == "optimal" and np.isclose(a.value, best.value, rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_two_rounds_east_sussex() -> None:
    from allocate.scenarios import east_sussex_2011
    from allocate.scenarios.east_sussex_2012 import east_sussex_2012

    first = solve(east_sussex_2011())
    second = east_sussex_2012(first)
    assert second.commitments and all(c.amounts[2] == 0 for c in second.commitments)
    a = solve(second, certify=True)
    assert a.status == "optimal"
    year1 = next(r for r in a.rules_report if r.label == "Budget[year=1]")
    assert year1.achieved <= year1.limit and year1.achieved >= sum(c.amounts[0] for c in second.commitments)


def test_summary_names_the_money_committed_from_earlier_rounds() -> None:
    from allocate.presentation.summary import summarise

    p = round_(commitments=(held(),))
    text = summarise(p, solve(p))
    assert "of £1,000.00, with £200.00 committed from earlier rounds" in text
    assert "committed" not in summarise(round_(), solve(round_()))
