"""Scaling: build (validate + compile) and solve time, gap and peak memory vs applications.

Each size runs in a fresh process so that its peak resident memory is its own. The ratio
column compares each size with the reference size (173 applications) in the same run. A scaled
round is generated as columns (`scaled_columns`), then validated (`Problem.from_columns`) and
compiled, each timed on its own; the East Sussex reference round is built object by object, so
its generation and validation are timed together.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import resource
import time
from typing import Any

from common import Column, RunContext, Section, ratio

TARGET_BUILD_S = 2.0
"""Validate + compile at 173,000 applications (issue 14)."""
TARGET_SOLVE_S = 60.0
TARGET_GAP = 1e-3
TARGET_MEMORY_GIB = 2.0


def _one(factor: int, backend: str, limit: float) -> dict[str, Any]:
    from allocate import Problem, compile_problem, solve
    from allocate.scenarios import east_sussex_2011
    from allocate.scenarios.scaled import scaled_columns

    t0 = time.perf_counter()
    validate_s: float | None = None
    if factor == 1:
        problem = east_sussex_2011()
    else:
        applications, variants, fields = scaled_columns(factor)
        t_columns = time.perf_counter()
        problem = Problem.from_columns(applications, variants=variants, **fields)
        validate_s = time.perf_counter() - t_columns
    t1 = time.perf_counter()
    model = compile_problem(problem)
    t2 = time.perf_counter()
    alloc = solve(problem, backend, compiled=model, time_limit=limit, relative_gap=TARGET_GAP)
    t3 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return {
        "factor": factor,
        "applications": len(problem.applications),
        "backend": backend,
        "generate_validate_s": t1 - t0,
        "validate_s": validate_s,
        "compile_s": t2 - t1,
        "validate_compile_s": None if validate_s is None else validate_s + t2 - t1,
        "solve_s": t3 - t2,
        "status": alloc.status,
        "gap": alloc.gap,
        "rows": model.A.shape[0],
        "nonzeros": model.A.nnz,
        "peak_gib": peak,
    }


def run(ctx: RunContext) -> Section:
    factors = [1, 10] if ctx.quick else [1, 10, 100, 1000]
    backends = ["highs"] if ctx.quick else ["cpsat", "highs"]
    limit = 20.0 if ctx.quick else TARGET_SOLVE_S
    section = Section(name="scale", title="Scaling: build and solve time vs number of applications")
    section.settings = {
        "factors": factors,
        "backends": backends,
        "time_limit_s": limit,
        "relative_gap": TARGET_GAP,
    }
    section.columns = [
        Column("applications", "applications", ",d"),
        Column("backend", "backend"),
        Column("generate_validate_s", "generate+validate s", ".2f"),
        Column("validate_s", "validate s", ".2f"),
        Column("compile_s", "compile s", ".2f"),
        Column("validate_compile_s", "validate+compile s", ".2f"),
        Column("compile_ratio", "compile / 173-app", ".1f"),
        Column("solve_s", "solve s", ".2f"),
        Column("status", "status"),
        Column("gap", "gap", ".2e"),
        Column("peak_gib", "peak GiB", ".2f"),
    ]
    rows = []
    for backend in backends:
        for factor in factors:
            with cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
                try:
                    row = pool.submit(_one, factor, backend, limit).result()
                except Exception as exc:  # report, keep going
                    section.errors.append(f"factor {factor} {backend}: {exc!r}")
                    continue
            rows.append(row)
            if ctx.verbose:
                print(row, flush=True)
    for row in rows:
        ref = next((r for r in rows if r["factor"] == 1 and r["backend"] == row["backend"]), None)
        row["compile_ratio"] = ratio(row["compile_s"], ref["compile_s"] if ref else None)
    section.summary = rows
    section.rows = rows
    big = [r for r in rows if r["factor"] == max(factors) and r["backend"] == "highs"]
    for r in big:
        section.notes.append(
            f"{r['applications']:,} applications: validate+compile {r['validate_compile_s']:.2f} s "
            f"(target ≤ {TARGET_BUILD_S} s), "
            f"solve {r['solve_s']:.1f} s to gap {r['gap'] if r['gap'] is not None else float('nan'):.2e} "
            f"(target ≤ {TARGET_GAP} in ≤ {TARGET_SOLVE_S} s), peak {r['peak_gib']:.2f} GiB (target ≤ {TARGET_MEMORY_GIB})"
        )
    return section
