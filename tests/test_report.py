"""The HTML report: one self-contained document, escaped, with charts; and `allocate report`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from allocate import Application, Budget, ClientGroup, Coverage, District, OrganisationCap, Problem, solve
from allocate.analysis.explain import explain
from allocate.analysis.frontier import frontier
from allocate.cli import main
from allocate.engine.result import Allocation
from allocate.presentation.report import html_report
from allocate.presentation.summary import pounds

EVIL = "<script>alert(1)</script>"


def tiny_problem() -> Problem:
    apps = [
        Application(
            id=f"A{i}",
            organisation=EVIL if i == 0 else f"Org {i % 3} & Sons",
            title=EVIL if i == 1 else f"Project {i}",
            client_groups=(("carers", "older")[i % 2],),
            districts=(("Hastings", "Rother", "Wealden")[i % 3],),
            cost=100_000 + 12_345 * i,
            outcome_score=95.0 if i < 2 else 50.0 + 5 * i,
            social_scores=(float(i % 5),) * 6,
        )
        for i in range(8)
    ]
    return Problem(
        name=f"Tiny {EVIL} round",
        applications=tuple(apps),
        districts=(
            District(id="Hastings", population=10, need=2.0),
            District(id="Rother", population=20),
            District(id="Wealden", population=30),
        ),
        client_groups=(ClientGroup(id="carers"), ClientGroup(id="older")),
        budget=Budget(total=600_000),
        rules=(Coverage(over="district", min_count=1), OrganisationCap(max_awards=2)),
    )


def assert_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<html") == 1 and page.rstrip().endswith("</html>")
    assert "<script" not in page.lower()
    assert not re.search(r"""\b(src|href)\s*=\s*["']?\s*(https?:|//)""", page, re.I)
    assert "<link" not in page.lower()
    assert "@import" not in page
    assert not re.search(r"url\(\s*['\"]?(?!#)", page)


@pytest.fixture(scope="module")
def solved() -> tuple[Problem, Allocation]:
    problem = tiny_problem()
    return problem, solve(problem)


def test_report_contents_and_escaping(solved: tuple[Problem, Allocation]) -> None:
    problem, allocation = solved
    assert allocation.awards
    funded = {a.application for a in allocation.awards}
    assert {"A0", "A1"} & funded, "the malicious strings should reach the award table"
    page = html_report(
        problem, allocation, explanations=explain(problem, allocation, applications=["A0", "A1"])
    )
    assert_self_contained(page)
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Org 1 &amp; Sons" in page or "Org 2 &amp; Sons" in page
    for app in funded:
        assert f"<td>{app}</td>" in page
    for d in ("Hastings", "Rother", "Wealden"):
        assert d in page
    assert "<svg" in page
    assert "Explanations" in page
    assert pounds(allocation.total) in page


def test_report_with_frontier_has_matplotlib_svg(solved: tuple[Problem, Allocation]) -> None:
    problem, allocation = solved
    front = frontier(problem)
    page = html_report(problem, allocation, frontier=front)
    assert_self_contained(page)
    assert page.count("<svg") >= 2
    assert "Weight frontier" in page
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page


def test_cli_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem_file = tmp_path / "round.json"
    problem_file.write_text(json.dumps(tiny_problem().model_dump(mode="json")), encoding="utf-8")
    out = tmp_path / "report.html"
    assert main(["report", str(problem_file), "--frontier", "--explain", "2", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "<svg" in page and "Weight frontier" in page and "Explanations" in page
    assert EVIL not in page
    assert "report written to" in capsys.readouterr().out


def test_cli_needs_a_problem_or_demo(tmp_path: Path) -> None:
    assert main(["report", "--out", str(tmp_path / "r.html")]) == 2
    assert not (tmp_path / "r.html").exists()


def hostile_places(problem: Problem) -> Problem:
    """The round with script-bearing district, client group and organisation names."""
    rename = {
        "Hastings": '</title></svg><script>alert("d")</script>',
        "carers": "<img src=x onerror=alert('g')>",
    }
    apps = tuple(
        a.model_copy(
            update={
                "districts": tuple(rename.get(d, d) for d in a.districts),
                "client_groups": tuple(rename.get(g, g) for g in a.client_groups),
                "organisation": f'O\'Neil "&" {EVIL} {a.id}',
            }
        )
        for a in problem.applications
    )
    districts = tuple(d.model_copy(update={"id": rename.get(d.id, d.id)}) for d in problem.districts)
    groups = tuple(g.model_copy(update={"id": rename.get(g.id, g.id)}) for g in problem.client_groups)
    return problem.replace(applications=apps, districts=districts, client_groups=groups)


def test_report_escapes_district_group_and_organisation_names() -> None:
    problem = hostile_places(tiny_problem())
    allocation = solve(problem)
    page = html_report(problem, allocation, frontier=frontier(problem))
    assert_self_contained(page)  # no <script>, no src= anywhere
    assert "<img" not in page and "</title></svg>" not in page
    assert (
        "&lt;/title&gt;&lt;/svg&gt;&lt;script&gt;alert(&#34;d&#34;)&lt;/script&gt;" in page
    )  # chart and table
    assert "O&#39;Neil &#34;&amp;&#34; &lt;script&gt;" in page
