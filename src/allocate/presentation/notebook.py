"""An Allocation in a notebook: an HTML summary, and pandas frames in pounds (its one-line repr is its own).

pandas is imported only by the frame functions (``pip install allocate[pandas]``). Values are
rounded to two places for display only; the Allocation itself keeps them exact.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from allocate.domain.model import Problem
from allocate.domain.money import amount, in_pounds, pounds
from allocate.engine.result import Allocation
from allocate.presentation.wording import sentences

if TYPE_CHECKING:
    import pandas as pd

TOP = 10
"""Rows of each table shown by `html`."""


def _round(v: float) -> float:
    """A value for display: two places, no float noise (82720.00000000001 is 82720.0)."""
    return round(v, 2) + 0.0


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="text-align:right">{escape(c)}</td>' if i in right else f"<td>{escape(c)}</td>"
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html(a: Allocation) -> str:
    """Summary, the largest awards and the binding rule rows, as HTML (Jupyter's `_repr_html_`)."""
    summary = (
        f"<p><b>{escape(a.status)}</b>: {escape(a.message)}<br>{len(a.awards)} awards, {pounds(a.total)}; "
        f"value {_round(a.value):,} (outcome {_round(a.value_outcome):,}, social {_round(a.value_social):,}); "
        f"{escape(a.solver.backend)} {a.solver.seconds:.2f} s; verified {a.verified}</p>"
    )
    awards = sorted(a.awards, key=lambda w: -w.amount)[:TOP]
    award_rows = [
        [w.application, w.variant or "", w.organisation, pounds(w.amount), f"{_round(w.value):,}"]
        for w in awards
    ]
    more = f"<p>… and {len(a.awards) - TOP} more awards</p>" if len(a.awards) > TOP else ""
    binding = list(a.binding_rules)[:TOP]
    rule_rows = [[r.label, amount(r.achieved, r.unit), r.sense, amount(r.limit, r.unit)] for r in binding]
    return (
        summary
        + _table(["application", "variant", "organisation", "amount", "value"], award_rows, {3, 4})
        + more
        + (f"<p>Binding rules ({len(a.binding_rules)}):</p>" if binding else "")
        + (_table(["rule", "achieved", "", "limit"], rule_rows, {1, 3}) if binding else "")
    )


def awards_frame(problem: Problem, a: Allocation) -> pd.DataFrame:
    """One row per award, joined with the application: title, districts, client groups, £ amounts."""
    import pandas as pd

    years = problem.budget.years
    records: list[dict[str, Any]] = []
    for w in a.awards:
        app = problem.application(w.application)
        var = next((v for v in app.variants if v.id == w.variant), None)
        districts = var.districts if var is not None and var.districts is not None else app.districts
        records.append(
            {
                "application": w.application,
                "variant": w.variant,
                "organisation": w.organisation,
                "title": app.title,
                "districts": "; ".join(districts) or "county-wide",
                "client_groups": "; ".join(app.client_groups),
                "amount_pounds": float(in_pounds(w.amount)),
                **{f"year_{y + 1}_pounds": float(in_pounds(p)) for y, p in enumerate(w.profile[:years])},
                "value": _round(w.value),
                "value_outcome": _round(w.value_outcome),
                "value_social": _round(w.value_social),
            }
        )
    columns = [
        "application", "variant", "organisation", "title", "districts", "client_groups", "amount_pounds",
        *[f"year_{y + 1}_pounds" for y in range(years)], "value", "value_outcome", "value_social",
    ]  # fmt: skip
    return pd.DataFrame.from_records(records, columns=columns)


def rules_frame(a: Allocation, problem: Problem | None = None) -> pd.DataFrame:
    """One row per checked rule row; money in pounds; with `problem`, the rule in plain words too."""
    import pandas as pd

    said: dict[str, str] = {}
    if problem is not None:
        said = sentences(problem)

    def shown(v: float, unit: str) -> float:
        return _round(v / 100) if unit in ("pence", "share") else _round(v)

    records = [
        {
            "rule": r.label,
            "sentence": said.get(r.label, ""),
            "achieved": shown(r.achieved, r.unit),
            "sense": r.sense,
            "limit": shown(r.limit, r.unit),
            "slack": shown(r.slack, r.unit),
            "unit": "£" if r.unit in ("pence", "share") else r.unit,
            "binding": r.binding,
            "met": r.ok,
        }
        for r in a.rules_report
    ]
    frame = pd.DataFrame.from_records(
        records, columns=["rule", "sentence", "achieved", "sense", "limit", "slack", "unit", "binding", "met"]
    )
    return frame if problem is not None else frame.drop(columns="sentence")
