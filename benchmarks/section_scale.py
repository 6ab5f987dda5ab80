"""Scaling (issue 14): build time, first verified allocation, gap at 10/30/60 s and peak memory.

Sizes: the scaled East Sussex structure at 1,730, 17,300 and 173,000 applications (`scaled(10)`,
`scaled(100)`, `scaled(1000)`; quick mode stops at 17,300). Each size and backend runs in a fresh
process so that its peak resident memory is its own. In the same process:

* build: generate the columns (`scaled_columns`), validate (`Problem.from_columns`), compile;
* first verified allocation: `allocate.engine.construct` on the compiled model, then `verify`;
* `solve(time_limit=10/30/60, relative_gap=0.001)`: each time limit bounds the whole call
  (loading the solver, the start, finishing and verifying included); status, gap and seconds;
* baseline, side by side: the same 60 s solve without the constructed start
  (``construct_start=False``, how solve ran before), as a gap and a wall-time ratio.

A backend that declines a round (HiGHS beyond £100m, see docs/engine.md) is reported as such.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import resource
import time
from typing import Any

from common import Column, RunContext, Section, ratio

TARGET_BUILD_S = 2.0
TARGET_FIRST_S = 10.0
TARGET_GAP_173K = 1e-2
TARGET_GAP_17K = 1e-3
TARGET_MEMORY_GIB = 2.0
GAP = 1e-3
LIMITS = (10.0, 30.0, 60.0)


def _gap(alloc: Any) -> float | None:
    return None if alloc.gap is None else float(alloc.gap)


def _one(factor: int, backend: str, limits: tuple[float, ...]) -> dict[str, Any]:
    import numpy as np

    from allocate import Problem, compile_problem, solve, verify
    from allocate.domain.errors import SolverError
    from allocate.engine.construct import construct
    from allocate.scenarios.scaled import scaled_columns

    t0 = time.perf_counter()
    applications, variants, fields = scaled_columns(factor)
    t_columns = time.perf_counter()
    problem = Problem.from_columns(applications, variants=variants, **fields)
    t1 = time.perf_counter()
    model = compile_problem(problem)
    t2 = time.perf_counter()
    outcome, social = model.objective()
    start = construct(model, outcome + social)
    chosen = [] if start is None else [model.candidates[j] for j in np.flatnonzero(start[: model.n] > 0.5)]
    check = verify(problem, [(c.application.id, c.variant_id) for c in chosen]) if start is not None else None
    t3 = time.perf_counter()
    row: dict[str, Any] = {
        "factor": factor,
        "applications": len(problem.applications),
        "backend": backend,
        "generate_s": t_columns - t0,
        "validate_s": t1 - t_columns,
        "compile_s": t2 - t1,
        "validate_compile_s": t2 - t_columns,
        "first_verified_s": (t3 - t2) if check is not None and check.ok else None,
        "start_ok": bool(check is not None and check.ok),
        "rows": model.A.shape[0],
        "nonzeros": model.A.nnz,
    }
    try:
        for limit in limits:
            s0 = time.perf_counter()
            alloc = solve(problem, backend, compiled=model, time_limit=limit, relative_gap=GAP)
            key = f"{int(limit)}"
            row[f"status_{key}"] = alloc.status
            row[f"gap_{key}"] = _gap(alloc)
            row[f"wall_{key}"] = time.perf_counter() - s0
            row[f"value_{key}"] = alloc.value
        s0 = time.perf_counter()
        base = solve(
            problem, backend, compiled=model, time_limit=limits[-1], relative_gap=GAP, construct_start=False
        )
        row["baseline_status"] = base.status
        row["baseline_gap"] = _gap(base)
        row["baseline_wall"] = time.perf_counter() - s0
    except SolverError as exc:  # HiGHS declines rounds beyond its trusted range
        row["declined"] = str(exc).split(":")[0]
    row["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return row


def run(ctx: RunContext) -> Section:
    factors = [10, 100] if ctx.quick else [10, 100, 1000]
    backends = ["cpsat", "highs"]
    limits = (5.0, 10.0) if ctx.quick else LIMITS
    section = Section(name="scale", title="Scaling: build, first verified allocation, gap over time, memory")
    section.settings = {
        "factors": factors,
        "backends": backends,
        "time_limits_s": limits,
        "relative_gap": GAP,
    }
    last = str(int(limits[-1]))
    section.columns = [
        Column("applications", "applications", ",d"),
        Column("backend", "backend"),
        Column("generate_s", "generate s", ".2f"),
        Column("validate_s", "validate s", ".2f"),
        Column("compile_s", "compile s", ".2f"),
        Column("validate_compile_s", "validate+compile s", ".2f"),
        Column("first_verified_s", "first verified allocation s", ".2f"),
        *[Column(f"gap_{int(t)}", f"gap at {int(t)} s", ".2e") for t in limits],
        Column(f"wall_{last}", f"wall of the {last} s call", ".1f"),
        Column("baseline_gap", f"gap at {last} s without the start", ".2e"),
        Column("gap_ratio", "gap ratio (start / none)", ".2f"),
        Column("peak_gib", "peak GiB", ".2f"),
        Column("declined", "declined"),
    ]
    rows = []
    for backend in backends:
        for factor in factors:
            with cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
                try:
                    row = pool.submit(_one, factor, backend, limits).result()
                except Exception as exc:  # report, keep going
                    section.errors.append(f"factor {factor} {backend}: {exc!r}")
                    continue
            row["gap_ratio"] = ratio(row.get(f"gap_{last}"), row.get("baseline_gap"))
            rows.append(row)
            if ctx.verbose:
                print(row, flush=True)
    section.summary = rows
    section.rows = rows
    for r in rows:
        if r["backend"] != "cpsat":
            continue
        build = r["validate_compile_s"]
        section.notes.append(
            f"{r['applications']:,} applications (cpsat): validate+compile {build:.2f} s (target ≤ {TARGET_BUILD_S} s at 173k), "
            f"first verified allocation {r['first_verified_s'] or float('nan'):.2f} s after compiling "
            f"(target ≤ {TARGET_FIRST_S} s), gap at {last} s {r.get(f'gap_{last}') or float('nan'):.2%} "
            f"(targets: ≤ {TARGET_GAP_17K:.1%} at 17.3k, ≤ {TARGET_GAP_173K:.0%} at 173k), the {last} s call "
            f"took {r.get(f'wall_{last}', float('nan')):.1f} s, peak {r['peak_gib']:.2f} GiB (target ≤ {TARGET_MEMORY_GIB})"
        )
    return section
