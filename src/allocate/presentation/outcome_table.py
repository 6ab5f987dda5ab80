"""The outcome table: one row per option of every application, what happened to it and why.

`allocate.presentation.outcomes` works the outcomes out (with `explain`'s margins); here they
are a record, a table (CSV, XLSX), a DataFrame and lines of text. Nothing here solves, so the
writers in `allocate.io` read this module without depending on the analyses.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from allocate.domain.money import in_pounds, pounds
from allocate.presentation.wording import words

if TYPE_CHECKING:
    import pandas as pd

Places = tuple[str, ...]
"""The districts an option serves; none: county-wide."""
Reason = Literal["funded", "locked in", "other option funded", "excluded", "pass mark", "rule", "outscored", "not explained"]  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """One option of one application, and what happened to it."""

    application: str
    variant: str | None
    """None for the application as submitted."""
    funded: bool
    amount_pence: int
    """The award if funded, else what the option asked for."""
    organisation: str
    title: str
    districts: Places
    client_groups: tuple[str, ...]
    outcome_score: float
    social_score: float
    """The mean of the social-capital scores."""
    reason: Reason
    text: str
    """The reason in plain words."""
    margin: float | None = None
    """Value it could lose and stay funded / needed to be funded, on the option `explain` names,
    only where an outcome score on the scale can cross it (else None, said in `text`)."""
    score_points: float | None = None
    """The margin in outcome-score points."""
    letter: str = ""
    """`explain`'s sentence for the application, ready for a feedback letter."""

    @property
    def option(self) -> str:
        return "as submitted" if self.variant is None else f"variant {self.variant}"

    @property
    def amount(self) -> Decimal:
        """Pounds, exact to the penny."""
        return in_pounds(self.amount_pence)


COLUMNS = (
    "application", "option", "funded", "amount_pounds", "organisation", "title", "districts",
    "client_groups", "outcome_score", "social_score", "reason", "reason_text", "margin_value",
    "margin_score_points", "letter",
)  # fmt: skip
"""The columns of the outcome table (CSV, XLSX, DataFrame)."""


def table(rows: list[Outcome]) -> tuple[list[str], list[list[Any]]]:
    """The outcome table: header and rows (money as exact pounds text, margins to two places)."""
    body = [
        [
            o.application,
            o.option,
            "yes" if o.funded else "no",
            str(o.amount),
            o.organisation,
            o.title,
            "; ".join(o.districts) or "county-wide",
            "; ".join(words(g) for g in o.client_groups),
            round(o.outcome_score, 2),
            round(o.social_score, 2),
            o.reason,
            o.text,
            None if o.margin is None else round(o.margin, 2),
            None if o.score_points is None else round(o.score_points, 2),
            o.letter,
        ]
        for o in rows
    ]
    return list(COLUMNS), body


def frame(rows: list[Outcome]) -> pd.DataFrame:
    """The outcome table as a pandas DataFrame (pandas is needed only here)."""
    import pandas as pd

    header, body = table(rows)
    out = pd.DataFrame(body, columns=header)
    out["funded"] = out["funded"] == "yes"
    out["amount_pounds"] = [float(o.amount) for o in rows]
    return out


def summary(rows: list[Outcome]) -> str:
    """One line per application: what happened and why."""
    lines = []
    for o in rows:
        money = pounds(o.amount_pence)
        lines.append(f"{o.application} ({o.option}, {money}): {o.text}")
    return "\n".join(lines)
