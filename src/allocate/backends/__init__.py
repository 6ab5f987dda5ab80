"""Solver backends behind one small protocol, found by name."""

from __future__ import annotations

from allocate.backends.base import Backend, RawSolution, Session, SolverOptions, solve_once
from allocate.backends.cbc import CbcBackend
from allocate.backends.cpsat import CpSatBackend
from allocate.backends.highs import HighsBackend
from allocate.errors import SolverError

NAMES: tuple[str, ...] = ("cbc", "highs", "cpsat")
DEFAULT_BACKEND = "cpsat"
"""Trust first, speed second (docs/engine.md): CP-SAT solves an exact integer model, is trusted on
every amount a round may hold, and had no wrong answer in the differential fuzz
(benchmarks/RESULTS.md); HiGHS is faster and certifies it."""


def get_backend(name: str) -> Backend:
    """The backend called `name` (one of NAMES)."""
    if name == "cbc":
        return CbcBackend()
    if name == "cpsat":
        return CpSatBackend()
    if name == "highs":
        return HighsBackend()
    raise SolverError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)}")


__all__ = [
    "DEFAULT_BACKEND",
    "NAMES",
    "Backend",
    "RawSolution",
    "Session",
    "SolverOptions",
    "get_backend",
    "solve_once",
]
