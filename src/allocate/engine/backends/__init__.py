"""Solver backends behind one small protocol, found by name and loaded on first use.

`import allocate` imports no solver library: a backend's module (and with it highspy or
OR-Tools) is imported when the backend is first asked for, and `available` tells whether its
package is installed without importing it (cvxpy's REQUIRED_MODULES). CBC was a backend until
its 2.10 release's wrong claims could not be fixed from outside (docs/engine.md, "Trust").
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import cast

from allocate.domain.errors import SolverError
from allocate.engine.backends.base import Backend, RawSolution, Session, SolverOptions, solve_once


@dataclass(frozen=True)
class _Entry:
    module: str
    cls: str
    package: str
    """The solver's Python package (the import name), checked by `available`."""
    install: str
    """What to `pip install` when it is missing."""


_REGISTRY: dict[str, _Entry] = {
    "highs": _Entry("allocate.engine.backends.highs", "HighsBackend", "highspy", "highspy"),
    "cpsat": _Entry("allocate.engine.backends.cpsat", "CpSatBackend", "ortools", "ortools"),
}

NAMES: tuple[str, ...] = tuple(_REGISTRY)
DEFAULT_BACKEND = "cpsat"
"""Trust first, speed second (docs/engine.md): CP-SAT solves an exact integer model, is trusted on
every amount a round may hold, and had no wrong answer in the differential fuzz
(benchmarks/RESULTS.md); HiGHS is faster and certifies it."""


def _entry(name: str) -> _Entry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SolverError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)}") from None


def available(name: str) -> bool:
    """Whether backend `name`'s solver package is installed (found, not imported)."""
    return importlib.util.find_spec(_entry(name).package) is not None


def get_backend(name: str) -> Backend:
    """The backend called `name` (one of NAMES); its module is imported on first use."""
    entry = _entry(name)
    if not available(name):
        raise SolverError(
            f"backend {name!r} needs the Python package {entry.package!r}, which is not installed "
            f"(pip install {entry.install})"
        )
    module = importlib.import_module(entry.module)
    return cast(Backend, getattr(module, entry.cls)())


__all__ = [
    "DEFAULT_BACKEND",
    "NAMES",
    "Backend",
    "RawSolution",
    "Session",
    "SolverOptions",
    "available",
    "get_backend",
    "solve_once",
]
