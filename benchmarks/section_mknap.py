"""OR-Library MKP section: profit reached at a fixed time limit, per class and backend.

Each multidimensional knapsack becomes a round with one budget year per constraint (see
allocate.scenarios.orlib). Every backend solves every chosen instance with the same time
limit, one thread and seed 0. Reported per class and backend: proven optimal count, count
reaching the reference, mean and worst gap to the reference ``(ref - profit) / ref``
(negative: better than the reference), and the time ratio to HiGHS (the default backend).

References: Chu & Beasley's 1998 best feasible values (``mkcbres.txt``, lower bounds, several
since improved in the literature) for the mknapcb classes; the proven optima stated in
mknap1.txt and mknap2.txt. A mismatch is a profit above a proven optimum, or a backend
claiming optimality below a known feasible value.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import time
from decimal import Decimal
from typing import Any

import numpy as np
from common import Column, RunContext, Section, geomean, ratio, timed

from allocate import AllocateError, Problem, compile_problem, solve
from allocate.scenarios.orlib import (
    MknapData,
    Reference,
    mknap_problem,
    mknap_profit,
    mknap_reference,
    read_mknap,
)

SCIPY = "scipy-highs"
BACKENDS = ("highs", "cpsat", SCIPY)
"""allocate's two backends, then the baseline: HiGHS via scipy.optimize.milp (see _scipy_highs)."""
CB_CLASSES = {f"mknapcb{i}.txt": f"{m}.{n}" for i, (m, n) in enumerate(
    [(5, 100), (5, 250), (5, 500), (10, 100), (10, 250), (10, 500), (30, 100), (30, 250), (30, 500)], start=1
)}  # fmt: skip
QUICK_MKNAP2 = ("SENTO1.DAT", "WEING7.DAT", "WEISH30.DAT", "PB6.DAT", "HP2.DAT")


def _scipy_highs(problem: Problem, time_limit: float) -> tuple[str, list[str], float | None, float]:
    """Baseline: HiGHS through scipy.optimize.milp on allocate's own compiled model.

    (status, funded ids, bound on value, wall seconds). Unlike OR-Tools' HiGHS wrapper, scipy
    returns HiGHS's incumbent and dual bound when the time limit stops it.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    start = time.perf_counter()
    model = compile_problem(problem)
    outcome, social = model.objective()
    result = milp(
        -(outcome + social),
        constraints=LinearConstraint(model.A, model.row_lo, model.row_hi),
        integrality=model.integer.astype(int),
        bounds=Bounds(model.var_lb, model.var_ub),
        options={"time_limit": time_limit, "mip_rel_gap": 0.0},
    )
    seconds = time.perf_counter() - start
    if result.x is None:
        return "no_solution", [], None, seconds
    funded = [model.candidates[j].application.id for j in np.flatnonzero(result.x[: model.n] > 0.5)]
    bound = getattr(result, "mip_dual_bound", None)
    return (
        ("optimal" if result.status == 0 else "feasible"),
        funded,
        None if bound is None else -bound,
        seconds,
    )


def _solve_one(data: MknapData, backend: str, time_limit: float, ref: Reference | None) -> dict[str, Any]:
    problem = mknap_problem(data)
    top = problem.scale.outcome_max
    row: dict[str, Any] = {
        "instance": data.name,
        "backend": backend,
        "n": len(data.profits),
        "m": len(data.capacities),
        "reference": None if ref is None else ref.value,
        "reference_kind": None if ref is None else ref.kind,
        "mismatch": None,
        "error": None,
    }
    bound: float | None
    if backend == SCIPY:
        status, funded, bound, wall = _scipy_highs(problem, time_limit)
        profit = mknap_profit(funded, problem)
        solver_seconds = wall
    else:
        try:
            allocation, wall = timed(
                lambda: solve(problem, backend, time_limit=time_limit, threads=1, seed=0)
            )
        except AllocateError as exc:
            row.update(status="error", profit=None, bound=None, seconds=None, gap_to_reference=None)
            row["error"] = f"{type(exc).__name__}: {exc}"
            return row
        status = allocation.status
        profit = mknap_profit(allocation, problem) if allocation.awards else Decimal(0)
        bound = allocation.bound
        solver_seconds = allocation.solver.seconds
    row.update(
        status=status,
        profit=profit,
        bound=None if bound is None else bound * top / 100,
        seconds=wall,
        solver_seconds=solver_seconds,
        gap_to_reference=None if ref is None else float((ref.value - profit) / ref.value),
    )
    if ref is not None:
        if ref.kind == "optimum" and profit > ref.value:
            row["mismatch"] = f"profit {profit} above the proven optimum {ref.value}"
        elif status == "optimal" and profit < ref.value:
            row["mismatch"] = f"claims optimal at {profit} below the reference {ref.value}"
    return row


def _plan(ctx: RunContext) -> list[tuple[str, MknapData, Reference | None, float]]:
    folder = ctx.data / "orlib-mknap"
    best = mknap_reference(folder / "mkcbres.txt")
    quick = ctx.quick
    limit_cb = float(ctx.options.get("mknap_time_limit") or (1.0 if quick else 5.0))
    limit_small = float(ctx.options.get("mknap_small_time_limit") or (2.0 if quick else 10.0))
    picks = (0,) if quick else (0, 10, 20)  # one instance per tightness 0.25 / 0.50 / 0.75
    plan: list[tuple[str, MknapData, Reference | None, float]] = []
    for file, label in CB_CLASSES.items():
        problems = read_mknap(folder / file)
        plan += [(label, problems[k], best.get(problems[k].name), limit_cb) for k in picks]
    for file, label in (("mknap1.txt", "mknap1"), ("mknap2.txt", "mknap2")):
        refs = mknap_reference(folder / file)
        for data in read_mknap(folder / file):
            if quick and label == "mknap2" and data.name not in QUICK_MKNAP2:
                continue
            plan.append((label, data, refs.get(data.name), limit_small))
    return plan


def run(ctx: RunContext) -> Section:
    """The MKP section: every chosen instance × every backend, `ctx.jobs` solves at a time."""
    backends = list(ctx.options.get("mknap_backends", BACKENDS))
    plan = _plan(ctx)
    section = Section(name="mknap", title="OR-Library MKP: gap to best-known at a fixed time limit")
    section.settings = {
        "instances": len(plan),
        "backends": backends,
        "time_limits_s": sorted({(label, limit) for label, _, _, limit in plan}),
        "threads_per_solve": 1,
        "parallel_solves": ctx.jobs,
    }
    tasks = [(label, data, ref, limit, b) for label, data, ref, limit in plan for b in backends]
    with cf.ProcessPoolExecutor(max_workers=ctx.jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = {
            pool.submit(_solve_one, data, b, limit, ref): (label, limit)
            for label, data, ref, limit, b in tasks
        }
        for future in cf.as_completed(futures):
            row = future.result()
            row["class"], row["time_limit"] = futures[future]
            section.rows.append(row)
            if row["mismatch"]:
                section.mismatches.append(f"{row['instance']} {row['backend']}: {row['mismatch']}")
            if row["error"]:
                section.errors.append(f"{row['instance']} {row['backend']}: {row['error']}")
            if ctx.verbose:
                print(
                    f"  {row['class']} {row['instance']} {row['backend']}: {row['status']} "
                    f"profit={row['profit']} ref={row['reference']} {row['seconds'] or 0:.2f}s",
                    flush=True,
                )
    order = {b: i for i, b in enumerate(backends)}
    classes = list(dict.fromkeys(label for label, *_ in plan))
    section.rows.sort(key=lambda r: (classes.index(r["class"]), r["instance"], order[r["backend"]]))
    highs = {r["instance"]: r["seconds"] for r in section.rows if r["backend"] == "highs"}
    for label in classes:
        for b in backends:
            rows = [r for r in section.rows if r["class"] == label and r["backend"] == b]
            gaps = [r["gap_to_reference"] for r in rows if r["gap_to_reference"] is not None]
            times = [r["seconds"] for r in rows if r["seconds"] is not None]
            section.summary.append(
                {
                    "class": label,
                    "backend": b,
                    "n": len(rows),
                    "limit": rows[0]["time_limit"],
                    "optimal": sum(r["status"] == "optimal" for r in rows),
                    "errors": sum(r["status"] == "error" for r in rows),
                    "at_ref": sum(
                        r["reference"] is not None
                        and r["profit"] is not None
                        and r["profit"] >= r["reference"]
                        for r in rows
                    ),
                    "mean_gap": 100 * sum(gaps) / len(gaps) if gaps else None,
                    "worst_gap": 100 * max(gaps) if gaps else None,
                    "mean_s": sum(times) / len(times) if times else None,
                    "time_ratio": geomean(ratio(r["seconds"], highs.get(r["instance"])) for r in rows),
                }
            )
    section.columns = [
        Column("class", "class (m.n)"),
        Column("backend", "backend"),
        Column("n", "inst", "d"),
        Column("limit", "limit s", ".0f"),
        Column("optimal", "proven", "d"),
        Column("errors", "errors", "d"),
        Column("at_ref", ">=ref", "d"),
        Column("mean_gap", "mean gap %", ".3f"),
        Column("worst_gap", "worst gap %", ".3f"),
        Column("mean_s", "mean s", ".2f"),
        Column("time_ratio", "time/highs", ".2f"),
    ]
    section.notes += [
        "gap % = 100·(reference − profit)/reference; negative means better than the reference.",
        "mknapcb references are Chu & Beasley (1998) best feasible values (lower bounds); "
        "mknap1/mknap2 references are proven optima.",
        "time/highs: geometric mean over the class's instances of wall time / HiGHS wall time "
        "(both capped by the time limit, so at the limit the ratio is about 1).",
        f"{ctx.jobs} solves run at once (one thread each).",
        f"{SCIPY} is a baseline, not an allocate backend: HiGHS via scipy.optimize.milp on "
        "allocate's compiled model (it returns HiGHS's incumbent at the time limit).",
        "errors: the backend raised instead of returning an allocation (listed below the table).",
    ]
    return section
