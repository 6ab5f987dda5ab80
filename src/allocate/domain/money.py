"""Money as people read it: pounds with pence (``£1,234.05``), never pence or scientific notation."""

from __future__ import annotations

from decimal import Decimal


def pounds(pence: int | float) -> str:
    """Exact pounds for whole pence (e.g. £1,234.05); rounded to the penny otherwise."""
    p = round(pence)
    sign = "-" if p < 0 else ""
    p = abs(p)
    return f"{sign}£{p // 100:,}.{p % 100:02d}"


def in_pounds(pence: int) -> Decimal:
    """Exact pounds as a Decimal with two places (for tables and frames)."""
    return (Decimal(pence) / 100).quantize(Decimal("0.01"))


def amount(value: float, unit: str) -> str:
    """A rule row's value in its unit: pounds for money, a plain count otherwise."""
    if unit in ("pence", "share"):
        return pounds(value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
