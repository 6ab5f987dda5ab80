"""The outcome table, plain-language rule sentences, the councillor's report and notebook displays."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from allocate import (
    Application,
    Budget,
    ClientGroup,
    Coverage,
    District,
    EqualityGap,
    Exclusive,
    Lock,
    OrganisationCap,
    PassMark,
    Problem,
    ScoreScale,
    Variant,
    Weights,
    solve,
    verify,
)
from allocate.cli import main
from allocate.io.outcomes import write_outcomes
from allocate.presentation.outcome_table import table
from allocate.presentation.outcomes import outcomes
from allocate.presentation.report import html_report
from allocate.presentation.wording import sentences


def round_() -> Problem:
    """Six bids, one of each fate: funded, locked in, excluded, below the pass mark, outscored,
    blocked by a cap (too costly for any allocation), and an exclusive pair."""

    def app(i: str, cost: int, score: float, **kw: object) -> Application:
        return Application(
            id=i,
            organisation=f"Org {i}",
            client_groups=("older_people",),
            districts=("Hastings",) if i != "F" else ("Rother",),
            cost=cost,
            outcome_score=score,
            social_scores=(3.0,) * 6,
            **kw,  # type: ignore[arg-type]
        )

    return Problem(
        name="Six fates",
        applications=(
            app("A", 40_000_00, 90, variants=(Variant(id="A-small", cost=20_000_00, outcome_score=80),)),
            app("B", 30_000_00, 61),
            app("C", 10_000_00, 95),
            app("D", 10_000_00, 50),
            app("E", 45_000_00, 62),
            app("F", 60_000_00, 99),
            app("G", 5_000_00, 70),
            app("H", 5_000_00, 90),
            app("I", 45_000_00, 80),
        ),
        districts=(District(id="Hastings", population=90_000), District(id="Rother", population=95_000)),
        client_groups=(ClientGroup(id="older_people"),),
        budget=Budget(total=100_000_00),
        rules=(
            PassMark(min_outcome=55),
            Lock(application="B"),
            Lock(application="C", fund=False),
            OrganisationCap(max_amount=50_000_00),
            Exclusive(applications=("G", "H")),
        ),
    )


@pytest.fixture(scope="module")
def fates() -> tuple[Problem, list]:  # type: ignore[type-arg]
    problem = round_()
    allocation = solve(problem, "highs")
    return problem, outcomes(problem, allocation, "highs")


def test_every_option_has_a_row_and_a_reason(fates: tuple[Problem, list]) -> None:  # type: ignore[type-arg]
    problem, rows = fates
    assert [(o.application, o.variant) for o in rows] == [
        (a.id, v) for a in problem.applications for v in (None, *(x.id for x in a.variants))
    ]
    reason = {(o.application, o.variant): o.reason for o in rows}
    assert reason[("B", None)] == "locked in"
    assert reason[("C", None)] == "excluded"
    assert reason[("D", None)] == "pass mark"
    assert reason[("F", None)] == "rule"
    assert reason[("G", None)] == "rule"  # exclusive with H, which was funded
    assert reason[("H", None)] == "funded"
    f = next(o for o in rows if o.application == "F")
    assert "receives at most £50,000.00" in f.text and f.margin is None
    funded = [o for o in rows if o.funded]
    assert sum(o.amount_pence for o in funded) == solve(problem, "highs").total
    assert all(o.text for o in rows)


def test_margins_are_exact(fates: tuple[Problem, list]) -> None:  # type: ignore[type-arg]
    """Raise an outscored bid's outcome score past its margin and it is funded; short of it, not."""
    problem, rows = fates
    e = next(o for o in rows if o.application == "E")
    assert e.reason == "outscored" and e.score_points is not None
    for delta, funded in ((e.score_points + 0.05, True), (e.score_points - 0.05, False)):
        apps = tuple(
            a.model_copy(update={"outcome_score": a.outcome_score + delta}) if a.id == "E" else a
            for a in problem.applications
        )
        assert ("E" in solve(problem.replace(applications=apps), "highs").funded) is funded


def test_without_margins_no_solves_and_says_so() -> None:
    problem = round_()
    allocation = solve(problem, "highs")
    rows = outcomes(problem, allocation, margins=False)
    e = next(o for o in rows if o.application == "E")
    assert e.reason == "not explained" and "margins not worked out" in e.text
    assert next(o for o in rows if o.application == "D").reason == "pass mark"
    assert allocation.outcomes(problem, margins=False) == rows


def test_outcome_table_files(fates: tuple[Problem, list], tmp_path: Path) -> None:  # type: ignore[type-arg]
    _, rows = fates
    write_outcomes(rows, tmp_path / "o.csv")
    got = list(csv.DictReader((tmp_path / "o.csv").open(encoding="utf-8", newline="")))
    assert [r["application"] for r in got] == [o.application for o in rows]
    assert got[0]["amount_pounds"] == "40000.00" or got[0]["amount_pounds"].endswith(".00")
    write_outcomes(rows, tmp_path / "o.xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(tmp_path / "o.xlsx")["outcomes"]
    assert [c.value for c in sheet[1]] == table(rows)[0]
    assert sheet.max_row == len(rows) + 1


def test_explain_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    path = tmp_path / "round.json"
    path.write_text(json.dumps(round_().model_dump(mode="json")), encoding="utf-8")
    out = tmp_path / "o.csv"
    assert main(["explain", str(path), "--application", "D", "--application", "E", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "D (as submitted, £10,000.00): Not funded: its outcome score 50 is below the pass mark of 55."
        in printed
    )
    assert [r["application"] for r in csv.DictReader(out.open(encoding="utf-8", newline=""))] == ["D", "E"]
    assert main(["explain", str(path), "--application", "Z"]) == 2
    assert "unknown application 'Z'" in capsys.readouterr().err
    assert main(["explain"]) == 2


# ---------------------------------------------------------------- sentences, money in £


def test_every_rule_row_has_a_sentence() -> None:
    problem = round_().replace(
        rules=(
            *round_().rules,
            Coverage(over="cell", min_amount=1_00),
            EqualityGap(over="district", tolerance=0.5),
        )
    )
    said = sentences(problem)
    allocation = solve(problem, "highs")
    for row in allocation.rules_report:
        assert row.label in said, row.label
        assert not re.search(r"\d e[+-]?\d|pence|\[", said[row.label]), said[row.label]
    assert (
        said["Coverage.min_amount[cell=Hastings:older_people]"]
        == "Older people in Hastings receives at least £1.00."
    )
    assert "share of the money is at least" in said["EqualityGap.low[district=Hastings]"]
    assert "pp" in said["EqualityGap.low[district=Hastings]"]


def test_violations_read_in_pounds() -> None:
    problem = round_()
    check = verify(problem, [("A", None), ("E", None), ("F", None)])
    assert not check.ok
    text = "; ".join(check.violations)
    assert "£145,000.00 > limit £100,000.00" in text
    assert "e+" not in text


# ---------------------------------------------------------------- the report a councillor reads


def test_report_badge_agrees_with_every_row() -> None:
    """A round meeting every rule but leaving a district under 3/4 of its need share is not green."""
    problem = Problem(
        name="Lopsided",
        applications=(
            Application(
                id="X",
                organisation="O1",
                client_groups=("g",),
                districts=("North",),
                cost=90_00,
                outcome_score=90,
            ),
            Application(
                id="Y",
                organisation="O2",
                client_groups=("g",),
                districts=("South",),
                cost=10_00,
                outcome_score=60,
            ),
        ),
        districts=(District(id="North", population=10), District(id="South", population=10)),
        client_groups=(ClientGroup(id="g"),),
        budget=Budget(total=100_00),
    )
    allocation = solve(problem, "highs")
    page = html_report(problem, allocation)
    assert 'class="status ok"' not in page
    assert 'class="status warn"' in page and "1 districts get under 3/4" in page
    assert 'class="below"' in page and "pp" in page
    fine = html_report(
        problem.replace(
            districts=(District(id="North", population=10, need=9.0), District(id="South", population=10))
        ),
        allocation,
    )
    assert 'class="status ok"' in fine and 'class="below"' not in fine


def test_report_speaks_plainly() -> None:
    problem = round_()
    allocation = solve(problem, "highs")
    page = html_report(problem, allocation)
    body, appendix = page.split("Appendix: technical details")
    assert "Org A receives at most £50,000.00." in body
    assert "OrganisationCap.max_amount[" not in body and "OrganisationCap.max_amount[" in appendix
    assert ">pence<" not in page and "e+0" not in page
    assert "Every application: outcome and reason" in body
    assert "below the pass mark of 55" in body
    assert allocation.fingerprint in appendix and allocation.fingerprint not in body


# ---------------------------------------------------------------- notebooks and pandas


def test_short_repr_and_html() -> None:
    from allocate.scenarios import east_sussex_2011

    problem = east_sussex_2011()
    allocation = solve(problem)
    text = repr(allocation)
    assert (
        len(text) < 300
        and text.startswith("Allocation(status='optimal', awards=")
        and str(allocation) == text
    )
    assert "0000000" not in text
    html = allocation._repr_html_()
    assert len(html) < 10_000 and "<table>" in html and "more awards" in html


def test_frames_in_pounds() -> None:
    pytest.importorskip("pandas")
    problem = round_()
    allocation = solve(problem, "highs")
    frame = allocation.to_frame(problem)
    assert list(frame["application"]) == [a.application for a in allocation.awards]
    assert frame["amount_pounds"].sum() * 100 == pytest.approx(allocation.total)
    assert {"title", "districts", "client_groups", "value"} <= set(frame.columns)
    assert all(round(v, 2) == v for v in frame["value"])
    rules = allocation.rules_frame(problem)
    assert rules.loc[rules["rule"] == "Budget[total]", "limit"].item() == 100_000.0
    assert rules.loc[rules["rule"] == "Budget[total]", "unit"].item() == "£"
    assert "sentence" in rules.columns and "sentence" not in allocation.rules_frame().columns


def test_problem_from_dataframe_takes_every_setting() -> None:
    pd = pytest.importorskip("pandas")
    import inspect

    from allocate.io import problem_from_dataframe

    params = set(inspect.signature(problem_from_dataframe).parameters)
    assert set(Problem.model_fields) <= params  # a new Problem setting must reach pandas users too
    frame = pd.DataFrame(
        [
            {"id": "A", "organisation": "O", "client_groups": "g", "districts": "North", "cost_pence": 100,
             "outcome_score": 9, "sc1": 8, "sc2": 7},
        ]
    )  # fmt: skip
    problem = problem_from_dataframe(
        frame,
        districts=[District(id="North", population=5), District(id="South", population=5, need=2.0)],
        client_groups=[ClientGroup(id="g")],
        budget=Budget(total=1000),
        weights=Weights(social_value_share=0.3),
        attribution="need",
        scale=ScoreScale(outcome_max=10, social_max=10),
        social_objectives=("S1", "S2"),
        name="From pandas",
    )
    assert problem.attribution == "need" and problem.scale.social_max == 10
    assert problem.social_objectives == ("S1", "S2") and problem.name == "From pandas"
