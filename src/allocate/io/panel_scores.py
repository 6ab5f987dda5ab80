"""The ``panel_scores`` table: outcome scores a second (third, ...) panel gave a bid.

One row per extra score: ``application_id``, ``panel``, ``outcome_score``. The application's
own panel and score stay in the applications table; these rows become
`Application.panel_scores`, the anchors of `allocate.moderate(method="anchor")`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from allocate.domain.model import Problem
from allocate.io.cells import Row, Spec
from allocate.io.safe import Cell

SPEC = Spec(("application_id", "panel", "outcome_score"))


def read(rows: Sequence[Row], applications: dict[str, dict[str, Any]]) -> None:
    """Add each row's score to its application's ``panel_scores`` (errors name row and column)."""
    for r in rows:
        app_id = r.required_text("application_id")
        if app_id not in applications:
            raise r.fail("application_id", f"unknown application {app_id!r}")
        panel = r.required_text("panel")
        score = r.number("outcome_score")
        if score is None:
            raise r.fail("outcome_score", "is empty but required")
        scores = applications[app_id].setdefault("panel_scores", {})
        if panel in scores:
            raise r.fail("panel", f"panel {panel!r} already scored application {app_id!r}")
        scores[panel] = score


def table(problem: Problem) -> tuple[list[str], list[list[Cell]]] | None:
    """The table of every extra panel score (None when there is none)."""
    body: list[list[Cell]] = [
        [a.id, panel, int(s) if float(s).is_integer() else s]
        for a in problem.applications
        for panel, s in sorted(a.panel_scores.items())
    ]
    return (list(SPEC.required), body) if body else None
