"""Helpers shared by the benchmark sections: run context, timing, ratios, tables, JSON, machine.

Benchmarks measure allocate against a baseline *in the same run* and report ratios, so that
numbers from different machines stay comparable. Nothing here is imported by the library.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"


def find_data(explicit: str | None = None) -> Path:
    """The bench-data folder: --data, $ALLOCATE_BENCH_DATA, or shared/bench-data beside the repo."""
    candidates = [
        explicit,
        os.environ.get("ALLOCATE_BENCH_DATA"),
        str(REPO.parent / "shared" / "bench-data"),
        "/work/shared/bench-data",
    ]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    raise SystemExit("bench-data not found: pass --data PATH or set ALLOCATE_BENCH_DATA")


@dataclass(frozen=True)
class RunContext:
    """What every section gets: mode, data folder, worker processes, verbosity."""

    quick: bool
    data: Path
    jobs: int = 1
    verbose: bool = False
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    """A column of a printed table: the row key, its header and a format ('' for str)."""

    key: str
    header: str
    fmt: str = ""


@dataclass
class Section:
    """One section's results: a summary table, per-instance rows, notes, mismatches and errors.

    A mismatch is a wrong answer (e.g. welfare differs from the baseline or a proven optimum);
    an error is a run that raised. Both are printed loudly and make run.py exit 1. A data
    note flags input that the two sides read differently (printed, but not a failure).
    """

    name: str
    title: str
    status: str = "ok"  # ok | pending | skipped
    columns: list[Column] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    data_notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["columns"] = [asdict(c) for c in self.columns]
        return data


def pending(name: str, title: str, note: str) -> Section:
    """A section whose code is not written yet (a hook)."""
    return Section(name=name, title=title, status="pending", notes=[note])


# -- timing and ratios --------------------------------------------------------------------


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """(result, wall seconds) of one call."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def best_of(fn: Callable[[], T], repeat: int) -> tuple[T, float]:
    """(result of the last call, least wall seconds over `repeat` calls): timeit's convention."""
    best = math.inf
    result: T | None = None
    for _ in range(max(1, repeat)):
        result, seconds = timed(fn)
        best = min(best, seconds)
    assert result is not None
    return result, best


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def geomean(values: Iterable[float | None]) -> float | None:
    """Geometric mean of the positive values (None if there are none): the mean of ratios."""
    logs = [math.log(v) for v in values if v is not None and v > 0]
    return math.exp(sum(logs) / len(logs)) if logs else None


def median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


# -- tables and JSON ----------------------------------------------------------------------


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    if fmt and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return format(value, fmt)
    return str(value)


def render_table(columns: Sequence[Column], rows: Sequence[dict[str, Any]], markdown: bool = False) -> str:
    """A fixed-width text table (or a Markdown table) of the rows."""
    cells = [[_cell(r.get(c.key), c.fmt) for c in columns] for r in rows]
    heads = [c.header for c in columns]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(heads)]

    def line(parts: Sequence[str]) -> str:
        padded = [p.rjust(w) if i else p.ljust(w) for i, (p, w) in enumerate(zip(parts, widths, strict=True))]
        return ("| " + " | ".join(padded) + " |") if markdown else "  ".join(padded)

    rule = ["-" * w for w in widths]
    if markdown:
        rule = [("-" * (w - 1) + ":") if i else "-" * w for i, w in enumerate(widths)]
    return "\n".join([line(heads), line(rule), *(line(r) for r in cells)])


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n", encoding="utf-8")


# -- the machine --------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else "unknown"


def _ram_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^MemTotal:\s+(\d+) kB", text, re.MULTILINE)
    return round(int(match.group(1)) / 2**20, 1) if match else None


def _package(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


_HIGHS_PROBE = """
from ortools.linear_solver.python import model_builder_helper as mbh
import numpy as np, scipy.sparse as sp
h = mbh.ModelBuilderHelper()
h.fill_model_from_sparse_data(np.zeros(1), np.ones(1), np.ones(1), np.array([-np.inf]), np.ones(1),
                              sp.csr_matrix(np.ones((1, 1))))
s = mbh.ModelSolverHelper("highs")
s.enable_output(True)
s.set_solver_specific_parameters("output_flag=true")
s.solve(h)
"""


def _solver_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"ortools": _package("ortools"), "cpsat": f"OR-Tools {_package('ortools')}"}
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _HIGHS_PROBE], capture_output=True, text=True, timeout=60, check=False
        )
        match = re.search(r"HiGHS (\d+\.\d+\.\d+)", probe.stdout + probe.stderr)
        out["highs"] = f"HiGHS {match.group(1)} (in OR-Tools)" if match else "HiGHS (in OR-Tools)"
    except (OSError, subprocess.SubprocessError):
        out["highs"] = None
    try:
        pywraplp = importlib.import_module("ortools.linear_solver.pywraplp")
        scip = pywraplp.Solver.CreateSolver("SCIP")
        out["scip"] = f"{scip.SolverVersion()} (in OR-Tools)" if scip else None
    except ImportError:
        out["scip"] = None
    try:
        import pulp

        cbc = pulp.PULP_CBC_CMD().path
        banner = subprocess.run(
            [cbc, "-quit"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
        match = re.search(r"Version:\s*(\S+)", banner)
        out["cbc"] = f"CBC {match.group(1) if match else '?'} (bundled with PuLP {pulp.__version__})"
    except (ImportError, OSError, subprocess.SubprocessError, AttributeError):
        out["cbc"] = None
    return out


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python, and library and solver versions."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    packages = ["allocate", "numpy", "scipy", "pydantic", "ortools", "PuLP", "pabutools"]
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_gib": _ram_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "packages": {p: _package(p) for p in packages},
        "solvers": _solver_versions(),
    }
