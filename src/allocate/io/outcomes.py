"""Write the outcome table (`allocate.presentation.outcome_table`) as CSV or XLSX, for feedback letters."""

from __future__ import annotations

from pathlib import Path

from allocate.domain.errors import InvalidProblemError
from allocate.io.write import write_csv, write_xlsx
from allocate.presentation.outcome_table import Outcome, table


def write_outcomes(rows: list[Outcome], path: str | Path) -> None:
    """The outcome of every application and option: .csv, or .xlsx (sheet ``outcomes``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        write_csv(path, *table(rows))
    elif suffix == ".xlsx":
        write_xlsx(path, {"outcomes": table(rows)})
    else:
        raise InvalidProblemError(
            (str(path),), "unknown output format for the outcome table (expected .csv or .xlsx)"
        )
