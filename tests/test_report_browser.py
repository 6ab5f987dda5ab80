"""The HTML report in a real headless browser (Debian's Chromium, tests/browser.py): not blank,
every section present, no horizontal overflow at 600 px, and it prints to PDF."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from allocate import solve
from allocate.io import read_problem
from allocate.presentation.report import html_report
from browser import blank, browser

KENT = Path(__file__).parent / "data" / "kent" / "kent_round.xlsx"
SECTIONS = (
    "Award schedule",
    "Money by district against need",
    "Money by client group",
    "Every application: outcome and reason",
    "Rules",
    "Appendix: technical details",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    problem = read_problem(KENT)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(html_report(problem, solve(problem, "highs")), encoding="utf-8")
    return path


@pytest.mark.parametrize("width", [600, 1100])
def test_report_renders_without_overflow(report: Path, width: int) -> None:
    with browser(width=width, height=900) as b:
        b.open(report)
        assert not blank(b.screenshot())
        headings = b.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
        assert list(headings) == list(SECTIONS)
        assert b.evaluate("document.documentElement.scrollWidth") <= width
        # no table needs its own scroll bar either: every column is readable at this width
        scrolled = b.evaluate(
            "Array.from(document.querySelectorAll('.wide')).filter(w => w.scrollWidth > w.clientWidth + 1).length"
        )
        assert scrolled == 0
        assert b.evaluate("document.querySelectorAll('.status').length") >= 1
        assert not b.errors()


def test_report_prints(report: Path) -> None:
    with browser(width=800, height=900) as b:
        b.open(report)
        b.media("print")
        assert not blank(b.screenshot())
        pdf = b.send("Page.printToPDF", {"printBackground": True})
        assert base64.b64decode(pdf["data"]).startswith(b"%PDF")
