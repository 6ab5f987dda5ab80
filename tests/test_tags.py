"""Tags of applications and organisations: coverage, equality gaps and caps over tags, files.

The round: four bids, value = outcome score (score_sum), budget £1,000.

    bid  org  cost  score  tags (own + organisation's)
    A    O1   £400  90     (O1 is user-led)
    B    O1   £300  80     new provider  (+ user-led)
    C    O2   £300  70
    D    O3   £200  40     new provider

Without rules: A+B+C = 240. User-led money is then £700 of £1,000.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import allocate
from allocate import (
    Application,
    Budget,
    ClientGroup,
    Coverage,
    District,
    EqualityGap,
    InvalidProblemError,
    Organisation,
    OrganisationCap,
    Problem,
    Weights,
    solve,
    verify,
)
from allocate.analysis.equality import equality_summary
from allocate.io import read_problem, write_problem
from brute import brute_force

BACKENDS = allocate.BACKENDS
POUND = 100


def round_(*rules: object) -> Problem:
    bids = {
        "A": ("O1", 400, 90.0, ()),
        "B": ("O1", 300, 80.0, ("new provider",)),
        "C": ("O2", 300, 70.0, ()),
        "D": ("O3", 200, 40.0, ("new provider",)),
    }
    return Problem(
        applications=tuple(
            Application(
                id=k,
                organisation=org,
                client_groups=("g",),
                cost=c * POUND,
                outcome_score=s,
                tags=tags,
            )
            for k, (org, c, s, tags) in bids.items()
        ),
        districts=(District(id="H", population=1),),
        client_groups=(ClientGroup(id="g"),),
        budget=Budget(total=1000 * POUND),
        organisations=(Organisation(id="O1", tags=("user-led",)), Organisation(id="O2", tags=("national",))),
        rules=rules,  # type: ignore[arg-type]
        weights=Weights(social_value_share=0.0, value_form="score_sum"),
    )


def test_an_application_carries_its_organisations_tags() -> None:
    p = round_()
    assert p.tags == ("national", "new provider", "user-led")
    assert [p.tags_of(a) for a in p.applications] == [
        ("user-led",),
        ("new provider", "user-led"),
        ("national",),
        ("new provider",),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_new_providers_get_at_least_two_awards(backend: str) -> None:
    problem = round_(Coverage(over="tag", key="new provider", min_count=2))
    assert brute_force(problem).value == pytest.approx(210)  # A+B+D
    a = solve(problem, backend)
    assert a.funded == {"A", "B", "D"} and a.value == pytest.approx(210)
    r = next(r for r in a.rules_report if r.label == "Coverage.min_count[tag=new provider]")
    assert (r.achieved, r.limit, r.unit, r.binding) == (2, 2, "awards", True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_tag_gets_the_whole_award_in_exact_pence(backend: str) -> None:
    """User-led money at most 40%: each user-led award counts in full (no pro-rata share)."""
    problem = round_(Coverage(over="tag", key="user-led", max_share=0.4))
    model = allocate.compile_problem(problem)
    rows = [i for i, lbl in enumerate(model.row_labels) if lbl.startswith("Coverage")]
    assert model.A[rows[0], : model.n].toarray().tolist() == [[40_000, 30_000, 0, 0]]
    assert model.row_unit[rows[0]] == "share"
    truth = brute_force(problem)
    a = solve(problem, backend)
    assert a.value == pytest.approx(truth.value) == 190  # A+C+D has £400 of £900 (44%): B+C+D
    assert a.funded == {"B", "C", "D"}
    assert verify(problem, [(w.application, w.variant) for w in a.awards]).ok


@pytest.mark.parametrize("backend", BACKENDS)
def test_equality_gap_over_declared_tag_targets(backend: str) -> None:
    """New providers within 30% ± 10 pp of the money: B or D funded, not neither."""
    problem = round_(EqualityGap(over="tag", target_shares={"new provider": 0.3}, tolerance=0.1))
    truth = brute_force(problem)
    a = solve(problem, backend)
    assert a.value == pytest.approx(truth.value)
    labels = {r.label for r in a.rules_report}
    assert labels >= {"EqualityGap.low[tag=new provider]", "EqualityGap.high[tag=new provider]"}
    assert not any("user-led" in lbl for lbl in labels)  # only declared tags are bounded


@pytest.mark.parametrize("backend", BACKENDS)
def test_organisation_cap_over_organisations_with_a_tag(backend: str) -> None:
    """Each user-led organisation at most one award: O1 gets A or B, not both."""
    problem = round_(OrganisationCap(tag="user-led", max_awards=1))
    assert problem.rules[0].label == "OrganisationCap[tag=user-led]"
    a = solve(problem, backend)
    assert a.value == pytest.approx(brute_force(problem).value) == 200  # A+C+D
    assert {r.label for r in a.rules_report if r.label.startswith("OrganisationCap")} == {
        "OrganisationCap.max_awards[O1]"
    }


def test_tag_errors_name_the_field() -> None:
    with pytest.raises(InvalidProblemError) as exc:
        round_(EqualityGap(over="tag", target_shares={"nope": 0.2}))
    assert exc.value.loc == ("Problem", "rules", 0, "target_shares", "nope")
    with pytest.raises(InvalidProblemError, match="needs declared target shares"):
        round_(EqualityGap(over="tag"))
    with pytest.raises(InvalidProblemError, match="only over='tag'"):
        round_(EqualityGap(over="district", target_shares={"user-led": 0.2}))
    with pytest.raises(InvalidProblemError) as exc:
        round_(Coverage(over="tag", key="unknown", min_count=1))
    assert exc.value.loc == ("Problem", "rules", 0, "key")
    with pytest.raises(InvalidProblemError, match="no organisation carries"):
        round_(OrganisationCap(tag="new provider", max_awards=1))  # an application tag, not an organisation's
    with pytest.raises(InvalidProblemError, match="twice"):
        Application(id="A", organisation="O", client_groups=("g",), cost=1, outcome_score=1, tags=("x", "x"))


def test_equality_summary_shows_money_by_tag() -> None:
    problem = round_(EqualityGap(over="tag", target_shares={"new provider": 0.3}, tolerance=1.0))
    a = solve(problem, "highs")
    lines = {x.key: x for x in equality_summary(problem, a).lines if x.dimension == "tag"}
    assert set(lines) == {"national", "new provider", "user-led"}
    assert lines["user-led"].money == 700 * POUND and lines["user-led"].awards == 2
    assert lines["new provider"].benchmark == "declared target share"
    assert lines["new provider"].benchmark_share == 0.3
    assert lines["national"].benchmark_share == pytest.approx(300 / 1200)  # share of money applied for
    assert "Tag" in equality_summary(problem, a).text()


@pytest.mark.parametrize("suffix", [".json", ".xlsx", ""])
def test_tags_round_trip_through_files(tmp_path: Path, suffix: str) -> None:
    problem = round_(
        Coverage(over="tag", key="user-led", min_share=0.2),
        EqualityGap(over="tag", target_shares={"new provider": 0.3, "national": 0.1}),
        OrganisationCap(tag="user-led", max_share=0.5),
    )
    path = tmp_path / f"round{suffix}"
    write_problem(problem, path)
    assert read_problem(path) == problem
