"""The what-if page: the share map against `solve`, the HTML document, and the page in Chromium."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from allocate import (
    Application,
    Budget,
    ClientGroup,
    Coverage,
    District,
    InvalidProblemError,
    Problem,
    Variant,
    Weights,
    frontier,
    solve,
    whatif_page,
)
from allocate.analysis.share_map import Change, award_key, share_map
from allocate.cli import main
from allocate.presentation.summary import pounds
from browser import Browser, blank, browser


def small_round(n: int = 16, seed: int = 3) -> Problem:
    """Irregular costs and scores (so optima are unique), a variant, county-wide bids: 8 allocations."""
    rng = np.random.default_rng(seed)
    places = ("Hastings", "Rother", "Wealden")
    apps = []
    for i in range(n):
        cost = int(rng.integers(40, 300)) * 1000 + int(rng.integers(1, 99))
        variants = ()
        if i % 5 == 2:
            score = float(np.round(rng.uniform(20, 70), 3))
            variants = (Variant(id="reduced", cost=cost * 6 // 10 + 7, outcome_score=score),)
        apps.append(
            Application(
                id=f"B{i:02d}",
                organisation=f"Org {i % 5}",
                title=f"Project {i}",
                client_groups=(("carers", "older_people", "young_people")[i % 3],),
                districts=() if i % 7 == 3 else (places[i % 3],),
                cost=cost,
                outcome_score=float(np.round(rng.uniform(20, 90), 3)),
                social_scores=tuple(float(np.round(v, 3)) for v in rng.uniform(0.2, 4.8, 6)),
                variants=variants,
            )
        )
    return Problem(
        name="test round",
        applications=tuple(apps),
        districts=(
            District(id="Hastings", population=90_254, need=0.3),
            District(id="Rother", population=90_588, need=0.2),
            District(id="Wealden", population=148_915, need=0.5),
        ),
        client_groups=(
            ClientGroup(id="carers"),
            ClientGroup(id="older_people"),
            ClientGroup(id="young_people"),
        ),
        budget=Budget(total=int(0.4 * sum(a.cost for a in apps))),
        rules=(Coverage(over="district", min_count=1),),
    )


def at(problem: Problem, share: float) -> Weights:
    return Weights(**{**problem.weights.model_dump(), "social_value_share": share})


def solved_key(problem: Problem, k: int, steps: int = 1000) -> frozenset[tuple[str, str | None]]:
    a = solve(problem, weights=at(problem, k / steps))
    assert a.status == "optimal"
    return award_key(a)


@pytest.fixture(scope="module")
def problem() -> Problem:
    return small_round()


@pytest.fixture(scope="module")
def page(problem: Problem, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("whatif") / "page.html"
    path.write_text(whatif_page(problem), encoding="utf-8")
    return path


def probe_positions(problem: Problem) -> list[int]:
    """Both ends, the grid shares on either side of every breakpoint, and each interval's middle."""
    f = frontier(problem)
    ks = {0, 1000}
    for b in f.breakpoints:
        ks |= {int(np.floor(b * 1000)), int(np.ceil(b * 1000))}
    for p in f.points:
        assert p.share_low is not None and p.share_high is not None
        ks.add(round((p.share_low + p.share_high) / 2 * 1000))
    return sorted(ks)


# -- the share map ------------------------------------------------------------------------


def test_share_map_agrees_with_solve_at_ends_breakpoints_and_middles(problem: Problem) -> None:
    m = share_map(problem)
    assert len(m.frontier.points) >= 5
    assert len(m.state_at) == 1001
    ks = probe_positions(problem)
    assert len(ks) >= 10
    for k in ks:
        assert award_key(m.states[m.state_at[k]].allocation) == solved_key(problem, k), k
    # The allocations change exactly where the frontier says, in share order.
    seen = [m.state_at[0]]
    for i in m.state_at:
        if i != seen[-1]:
            seen.append(i)
    assert seen == sorted(seen)
    assert 0 in m.solved and 1000 in m.solved


def room_for_one(bids: tuple[Application, ...]) -> Problem:
    """A round of £100k bids in one district and one group, with budget for one of them."""
    return Problem(
        applications=bids,
        districts=(District(id="D", population=1),),
        client_groups=(ClientGroup(id="g"),),
        budget=Budget(total=100_000_00),
    )


def test_exact_tie_shows_what_solve_returns() -> None:
    """Two bids, room for one: equal value at exactly 50%, the grid share 500 (a breakpoint)."""
    bids = (
        Application(id="OUT", organisation="A", client_groups=("g",), cost=100_000_00, outcome_score=80.0,
                    social_scores=(2.0,) * 6),
        Application(id="SOC", organisation="B", client_groups=("g",), cost=100_000_00, outcome_score=40.0,
                    social_scores=(4.0,) * 6),
    )  # fmt: skip
    p = room_for_one(bids)
    m = share_map(p)
    assert m.frontier.breakpoints == pytest.approx((0.5,))
    assert 500 in m.solved
    assert award_key(m.states[m.state_at[500]].allocation) == solved_key(p, 500)
    assert {a for a, _ in award_key(m.states[m.state_at[499]].allocation)} == {"OUT"}
    assert {a for a, _ in award_key(m.states[m.state_at[501]].allocation)} == {"SOC"}
    first = m.states[0]
    assert first.point == 0 and m.up[0] is not None and m.up[0].share == pytest.approx(0.5)
    assert m.down[0] is None and m.up[1] is None


@pytest.mark.parametrize("socials", [(4.0, 2.0), (2.0, 4.0)])
def test_tie_at_an_end_shows_solves_pick_even_off_the_frontier(socials: tuple[float, float]) -> None:
    """Two bids equal in outcome, room for one: at 0% both are optimal; the frontier lists only
    the one with more social value, and solve may return the other."""
    bids = tuple(
        Application(id=n, organisation=n, client_groups=("g",), cost=100_000_00, outcome_score=60.0,
                    social_scores=(s,) * 6)
        for n, s in zip("AB", socials, strict=True)
    )  # fmt: skip
    p = room_for_one(bids)
    m = share_map(p, steps=10)
    assert len(m.frontier.points) == 1
    for k in (0, 1, 10):
        assert award_key(m.states[m.state_at[k]].allocation) == solved_key(p, k, steps=10)
    first = m.state_at[0]
    if m.states[first].point is None:  # solve's pick, not on the frontier: its own entry
        assert m.up[first] == Change(0.0, 0) and m.down[first] is None
        data = page_data(whatif_page(p, m.frontier, steps=10))
        assert (
            data["pos"][0][0] == first and "tied with its neighbours at 0%" in data["states"][first]["span"]
        )


def test_share_map_rejects_epsilon_frontier_and_bad_steps(problem: Problem) -> None:
    with pytest.raises(InvalidProblemError, match="frontier"):
        share_map(problem, frontier(problem, method="epsilon", steps=3))
    with pytest.raises(InvalidProblemError, match="steps"):
        share_map(problem, steps=1)


# -- the document -------------------------------------------------------------------------


def page_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="whatif-data">(.*?)</script>', html, re.S)
    assert found is not None
    data: dict = json.loads(found.group(1))
    return data


def test_page_is_self_contained_and_escapes_text(problem: Problem) -> None:
    hostile = "</script><script>alert(1)</script>&<b>"
    apps = tuple(a.model_copy(update={"title": hostile}) for a in problem.applications)
    p = problem.replace(applications=apps, name="<i>round</i>")
    front = frontier(p)
    html = whatif_page(p, front)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert not re.search(r"""(src|href)\s*=|https?://|@import|url\(""", html)
    assert "<script>alert" not in html and "<i>round" not in html
    data = page_data(html)
    assert hostile in (row[1] for row in data["cands"])  # intact as data, shown via textContent
    assert len(data["pos"]) == 1001 and data["steps"] == 1000
    assert len(data["states"]) == len(front.points)
    # Values are the library's: at each share, (1 − s)·O + s·S of the allocation shown.
    m = share_map(p, front)
    for k in (0, 137, 500, 1000):
        i, _, _, value, outcome, social = data["pos"][k]
        o, s = m.states[i].value_at(k / 1000, p)
        assert (value, outcome, social) == (f"{o + s:,.1f}", f"{o:,.1f}", f"{s:,.1f}")


def test_page_escapes_district_group_and_organisation_names(problem: Problem) -> None:
    evil = '</script><script>alert("d")</script>'
    rename = {"Hastings": evil, "carers": "<img src=x onerror=alert('g')>"}
    apps = tuple(
        a.model_copy(
            update={
                "districts": tuple(rename.get(d, d) for d in a.districts),
                "client_groups": tuple(rename.get(g, g) for g in a.client_groups),
                "organisation": f"O'Neil & {evil}",
            }
        )
        for a in problem.applications
    )
    p = problem.replace(
        applications=apps,
        districts=tuple(d.model_copy(update={"id": rename.get(d.id, d.id)}) for d in problem.districts),
        client_groups=tuple(
            g.model_copy(update={"id": rename.get(g.id, g.id)}) for g in problem.client_groups
        ),
        name=evil,
    )
    html = whatif_page(p, frontier(p), steps=20)
    assert "<script>alert" not in html and "<img" not in html
    assert html.count("</script>") == 2  # the data's own and the page script's
    assert "<title>What if social value counted for more? &lt;/script&gt;&lt;script&gt;" in html
    data = page_data(html)
    shown = {row[0] for state in data["states"] for row in state["districts"] + state["groups"]}
    assert set(rename.values()) <= shown  # intact as data, shown via textContent
    assert all(row[2] == f"O'Neil & {evil}" for row in data["cands"])


def test_page_does_not_change_the_problem(problem: Problem) -> None:
    before = problem.model_dump()
    whatif_page(problem, steps=20)
    assert problem.model_dump() == before


def test_cli_writes_the_page_and_nothing_on_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "small_round"
    out = tmp_path / "page.html"
    assert main(["whatif", str(example), "--out", str(out)]) == 0
    assert page_data(out.read_text(encoding="utf-8"))["steps"] == 1000
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not a private temp file
    assert "written to" in capsys.readouterr().out
    bad = tmp_path / "bad.html"
    assert main(["whatif", str(tmp_path / "missing"), "--out", str(bad)]) == 2
    assert not bad.exists() and "error" in capsys.readouterr().err
    assert main(["whatif", "--out", str(bad)]) == 2
    # A round no allocation can satisfy: the frontier fails, and an existing page stays as it was.
    impossible = small_round().replace(rules=(Coverage(over="district", min_count=99),))
    source = tmp_path / "impossible.json"
    source.write_text(json.dumps(impossible.model_dump(mode="json")), encoding="utf-8")
    before = out.read_bytes()
    assert main(["whatif", str(source), "--out", str(out)]) == 2
    assert "error" in capsys.readouterr().err and out.read_bytes() == before
    assert sorted(tmp_path.iterdir()) == sorted([out, source])


# -- in Chromium --------------------------------------------------------------------------

SHOWN = """Array.from(document.querySelectorAll('#awards-body tr')).map(
  tr => [tr.dataset.award, tr.dataset.variant, tr.lastChild.textContent])"""


def shown(b: Browser, problem: Problem, k: int) -> None:
    """The page at slider position k shows exactly solve's awards, amounts and value at k/1000."""
    assert b.evaluate("document.getElementById('share').value") == str(k)
    a = solve(problem, weights=at(problem, k / 1000))
    rows = b.evaluate(SHOWN)
    assert {(app, var or None) for app, var, _ in rows} == award_key(a), k
    assert len(rows) == len(a.awards)
    amounts = {(x.application, x.variant or ""): pounds(x.amount) for x in a.awards}
    assert {(app, var): amount for app, var, amount in rows} == amounts
    assert b.evaluate("document.getElementById('share-out').textContent") == f"{k / 10:.1f}%"
    value = b.evaluate("document.getElementById('value').textContent")
    assert float(value.replace(",", "")) == pytest.approx(a.value, abs=0.051)
    label = b.evaluate("document.getElementById('share').getAttribute('aria-valuetext')")
    assert label.startswith(f"{k / 10:.1f}% social value: allocation #")


@pytest.fixture(scope="module")
def chromium_session() -> Iterator[Browser]:
    with browser(width=1000, height=900) as b:
        yield b


@pytest.fixture
def chrome(chromium_session: Browser) -> Browser:
    """The module's Chromium, back to a 1000 x 900 screen."""
    chromium_session.media("")
    chromium_session.resize(1000, 900)
    return chromium_session


def test_page_in_chromium_agrees_with_solve(problem: Problem, page: Path, chrome: Browser) -> None:
    ks = probe_positions(problem)
    b = chrome
    b.open(page)
    assert b.evaluate("document.documentElement.dataset.ready") == "true"
    start = round(problem.weights.social_value_share * 1000)
    shown(b, problem, start)
    # The keyboard: the slider takes focus and moves with the arrow, Page and Home/End keys.
    b.evaluate("document.getElementById('share').focus()")
    b.press("ArrowRight")
    shown(b, problem, start + 1)
    b.press("PageUp")
    shown(b, problem, start + 101)
    b.press("End")
    shown(b, problem, 1000)
    b.press("Home")
    shown(b, problem, 0)
    # The "next change" button jumps to the first share of the next allocation.
    b.evaluate("document.getElementById('next').click()")
    k = int(b.evaluate("document.getElementById('share').value"))
    m = share_map(problem)
    assert m.state_at[k] != m.state_at[k - 1] and len(set(m.state_at[:k])) == 1
    shown(b, problem, k)
    for k in ks:
        b.evaluate(
            f"(s => {{ s.value = '{k}'; s.dispatchEvent(new Event('input', {{bubbles: true}})); }})"
            "(document.getElementById('share'))"
        )
        shown(b, problem, k)
    assert b.errors() == []
    png = b.screenshot()
    assert png.startswith(b"\x89PNG") and not blank(png)
    # Readable at 600 px: nothing wider than the window.
    b.resize(600, 900)
    assert b.evaluate("document.documentElement.scrollWidth") <= 600
    # Printing keeps the current state and drops the controls.
    b.media("print")
    assert b.evaluate("getComputedStyle(document.getElementById('share')).display") == "none"
    assert b.evaluate("document.getElementById('share-print').textContent") == "100.0%"
    assert b.evaluate("getComputedStyle(document.getElementById('awards')).display") == "table"


def test_blank_screenshot_is_detected(tmp_path: Path, chrome: Browser) -> None:
    empty = tmp_path / "empty.html"
    empty.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    chrome.open(empty)
    assert blank(chrome.screenshot())


@pytest.mark.slow
def test_east_sussex_page_under_2mb_and_agrees_with_solve(tmp_path: Path) -> None:
    from allocate.scenarios import east_sussex_2011

    problem = east_sussex_2011()
    html = whatif_page(problem)
    size = len(html.encode("utf-8"))
    assert size < 2_000_000, size
    path = tmp_path / "east-sussex.html"
    path.write_text(html, encoding="utf-8")
    with browser(width=1000, height=900) as b:
        b.open(path)
        for k in (0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000):
            b.evaluate(
                f"(s => {{ s.value = '{k}'; s.dispatchEvent(new Event('input', {{bubbles: true}})); }})"
                "(document.getElementById('share'))"
            )
            shown(b, problem, k)
        assert b.errors() == [] and not blank(b.screenshot())


def test_share_map_refuses_a_gap_it_could_not_show_exactly() -> None:
    from allocate import InvalidProblemError, SolverOptions
    from allocate.analysis.share_map import share_map
    from allocate.io import read_problem

    problem = read_problem(Path(__file__).parents[1] / "examples" / "small_round")
    with pytest.raises(InvalidProblemError, match=r"options\.relative_gap: must be 0"):
        share_map(problem, options=SolverOptions(relative_gap=0.1))
