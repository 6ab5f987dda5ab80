"""Analysis at interactive speed (issues 13 and 26): each analysis of the East Sussex 2011 reference
as a ratio to one `solve` of the same round, measured in the same run.

* ``frontier``, ``explain`` (every application), ``robustness`` (quick: 20 samples, full: 100),
  ``price_of_rules``, ``whatif_page`` and ``diagnose`` of the infeasible variant of the round,
  each with its default executor (a pool of 2 threads on this round), vs the median of three
  ``solve(problem)`` calls. Targets (issue 26): frontier, explain, price_of_rules <= 5x;
  robustness (100) <= 10x; whatif_page <= 60x; diagnose <= 10x (default backend, and HiGHS
  against a HiGHS solve).
* ``sweep``: N social value shares (quick: 50, full: 1000) read off the exact frontier vs a
  naive loop that rebuilds a hand-written PuLP/CBC model per weighting (timed on quick: 3,
  full: 10 of them and extrapolated). Target: at least 50x. The naive answers are checked
  against the sweep's, and the sweep's against independent `solve` calls on the same subset.
* ``small solve``: median `solve` of examples/small_round (16 applications) with the default
  backend, and where its time goes. Target: at most 5 ms.

Run alone: ``python benchmarks/section_analysis.py [--full]``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from baselines import hand_pulp
from common import Column, RunContext, Section

from allocate import (
    diagnose,
    explain,
    frontier,
    price_of_rules,
    robustness,
    solve,
    sweep,
    verify,
    whatif_page,
)
from allocate.domain.parts import as_weights
from allocate.engine.backends import DEFAULT_BACKEND, get_backend
from allocate.engine.compile import compile_problem
from allocate.engine.finish import finish
from allocate.engine.options import SolverOptions
from allocate.io import read_problem
from allocate.scenarios import east_sussex_2011

REL_TOL = 1e-6
SMALL = Path(__file__).resolve().parents[1] / "examples" / "small_round"


def _small(repeat: int) -> dict[str, float]:
    """Median ms of solve on the small round, and of its parts (compile, load, solve, finish)."""
    problem = read_problem(SMALL)
    solve(problem)  # warm caches (imports, metadata)
    parts: dict[str, list[float]] = {"total": [], "compile": [], "load": [], "solver": [], "finish": []}
    opts = SolverOptions()
    for _ in range(repeat):
        t0 = time.perf_counter()
        solve(problem)
        parts["total"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        model = compile_problem(problem)
        t1 = time.perf_counter()
        session = get_backend(DEFAULT_BACKEND).prepare(model)
        t2 = time.perf_counter()
        o, s = model.objective()
        raw = session.solve(o + s, opts)
        t3 = time.perf_counter()
        finish(problem, model, raw, problem.weights, DEFAULT_BACKEND, opts)
        t4 = time.perf_counter()
        for k, v in zip(
            ("compile", "load", "solver", "finish"), (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True
        ):
            parts[k].append(v)
    return {k: 1000 * statistics.median(v) for k, v in parts.items()}


def run(quick: bool) -> dict[str, Any]:
    problem = east_sussex_2011()
    samples = 20 if quick else 100
    n_shares = 50 if quick else 1000
    n_naive = 3 if quick else 10
    mismatches: list[str] = []

    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        base = solve(problem)
        times.append(time.perf_counter() - t0)
    one = statistics.median(times)

    t0 = time.perf_counter()
    front = frontier(problem)
    frontier_s = time.perf_counter() - t0
    print(f"  one solve {one:.2f} s; frontier {frontier_s:.1f} s ({frontier_s / one:.1f}x)", flush=True)

    t0 = time.perf_counter()
    why = explain(problem, base)
    explain_s = time.perf_counter() - t0
    print(f"  explain {explain_s:.1f} s ({explain_s / one:.1f}x)", flush=True)

    t0 = time.perf_counter()
    rob = robustness(problem, samples=samples, seed=0)
    robustness_s = time.perf_counter() - t0
    print(f"  robustness {robustness_s:.1f} s ({robustness_s / one:.1f}x)", flush=True)

    t0 = time.perf_counter()
    price_of_rules(problem)
    price_s = time.perf_counter() - t0
    print(f"  price_of_rules {price_s:.1f} s ({price_s / one:.1f}x)", flush=True)

    t0 = time.perf_counter()
    whatif_page(problem, front)
    page_s = time.perf_counter() - t0 + frontier_s  # the page computes its frontier when not given one
    print(f"  whatif_page {page_s:.1f} s ({page_s / one:.1f}x)", flush=True)

    clash = east_sussex_2011(setting="infeasible")
    diagnosed: dict[str, tuple[float, float, bool]] = {}
    for backend in (DEFAULT_BACKEND, "highs"):
        t0 = time.perf_counter()
        solve(problem, backend)
        ref = one if backend == DEFAULT_BACKEND else time.perf_counter() - t0
        t0 = time.perf_counter()
        d = diagnose(clash, backend)
        diagnosed[backend] = (time.perf_counter() - t0, ref, d.least)
        if d.feasible:
            mismatches.append(f"diagnose ({backend}) found the infeasible round feasible")
        print(
            f"  diagnose ({backend}) {diagnosed[backend][0]:.1f} s ({diagnosed[backend][0] / ref:.1f}x)",
            flush=True,
        )

    shares = [float(s) for s in np.linspace(0.0, 1.0, n_shares)]
    t0 = time.perf_counter()
    swept = sweep(problem, shares)
    sweep_s = time.perf_counter() - t0
    print(f"  sweep of {n_shares} shares {sweep_s:.1f} s", flush=True)
    subset = [int(i) for i in np.linspace(1, n_shares - 2, n_naive)]
    naive = 0.0
    for i in subset:
        w = as_weights(problem, shares[i])
        t0 = time.perf_counter()
        chosen, _, status = hand_pulp(problem.replace(weights=w))
        check = verify(problem, chosen, weights=w)
        naive += time.perf_counter() - t0
        if status != "Optimal" or not check.ok:
            mismatches.append(f"share {shares[i]:.4f}: PuLP status {status}, verifier ok={check.ok}")
        elif abs(check.value - swept[i].value) > REL_TOL * max(1.0, abs(check.value)):
            mismatches.append(f"share {shares[i]:.4f}: PuLP {check.value:.6f} vs sweep {swept[i].value:.6f}")
        direct = solve(problem, weights=w)
        if direct.funded != swept[i].funded:
            mismatches.append(f"share {shares[i]:.4f}: sweep's allocation differs from solve's")
    naive_extrapolated = naive / len(subset) * n_shares

    small = _small(15 if quick else 41)
    return {
        "scenario": problem.name,
        "one_solve_s": one,
        "frontier_s": frontier_s,
        "frontier_ratio": frontier_s / one,
        "frontier_points": len(front.points),
        "frontier_solves": front.solves,
        "explain_s": explain_s,
        "explain_ratio": explain_s / one,
        "explain_solves": why.solves,
        "robustness_samples": samples,
        "robustness_s": robustness_s,
        "robustness_ratio": robustness_s / one,
        "robustness_solved": rob.solved,
        "price_s": price_s,
        "whatif_page_s": page_s,
        "diagnose": diagnosed,
        "sweep_shares": n_shares,
        "sweep_s": sweep_s,
        "naive_timed_on": len(subset),
        "naive_per_weighting_s": naive / len(subset),
        "naive_extrapolated_s": naive_extrapolated,
        "sweep_speedup": naive_extrapolated / sweep_s,
        "small_solve_ms": small["total"],
        "small_parts_ms": {k: round(v, 2) for k, v in small.items() if k != "total"},
        "mismatches": mismatches,
    }


def section(ctx: RunContext) -> Section:
    """run() as a Section for benchmarks/run.py."""
    r = run(ctx.quick)
    out = Section(
        name="analysis", title="Analysis on East Sussex 2011 as ratios to one solve (issues 13, 26)"
    )
    out.settings = {
        "robustness_samples": r["robustness_samples"],
        "sweep_shares": r["sweep_shares"],
        "naive_timed_on": r["naive_timed_on"],
        "executor": "default (a pool of 2 threads on this round)",
    }
    rows = [
        {"what": "one solve", "seconds": r["one_solve_s"], "ratio": 1.0, "target": "", "detail": ""},
        {
            "what": "frontier",
            "seconds": r["frontier_s"],
            "ratio": r["frontier_ratio"],
            "target": "<= 5x solve",
            "detail": f"{r['frontier_points']} points, {r['frontier_solves']} solves",
        },
        {
            "what": "explain (all)",
            "seconds": r["explain_s"],
            "ratio": r["explain_ratio"],
            "target": "<= 5x solve",
            "detail": f"{r['explain_solves']} re-solves",
        },
        {
            "what": f"robustness ({r['robustness_samples']})",
            "seconds": r["robustness_s"],
            "ratio": r["robustness_ratio"],
            "target": "<= 10x solve",
            "detail": f"{r['robustness_solved']} solved",
        },
        {
            "what": "price_of_rules",
            "seconds": r["price_s"],
            "ratio": r["price_s"] / r["one_solve_s"],
            "target": "<= 5x solve",
            "detail": "",
        },
        {
            "what": "whatif_page",
            "seconds": r["whatif_page_s"],
            "ratio": r["whatif_page_s"] / r["one_solve_s"],
            "target": "<= 60x solve",
            "detail": "frontier + page",
        },
        *(
            {
                "what": f"diagnose ({backend})",
                "seconds": seconds,
                "ratio": seconds / ref,
                "target": "<= 10x solve",
                "detail": f"vs a {backend} solve of {ref:.2f} s; least fix proven: {least}",
            }
            for backend, (seconds, ref, least) in r["diagnose"].items()
        ),
        {
            "what": f"sweep ({r['sweep_shares']} shares)",
            "seconds": r["sweep_s"],
            "ratio": r["sweep_s"] / r["one_solve_s"],
            "target": f">= 50x faster than naive ({r['sweep_speedup']:.1f}x)",
            "detail": f"naive {r['naive_per_weighting_s']:.2f} s/weighting on {r['naive_timed_on']}, extrapolated",
        },
        {
            "what": "small_round solve",
            "seconds": r["small_solve_ms"] / 1000,
            "ratio": None,
            "target": f"<= 5 ms ({r['small_solve_ms']:.1f} ms)",
            "detail": ", ".join(f"{k} {v} ms" for k, v in r["small_parts_ms"].items()),
        },
    ]
    out.columns = [
        Column("what", "analysis"),
        Column("seconds", "seconds", ".3f"),
        Column("ratio", "x one solve", ".1f"),
        Column("target", "target"),
        Column("detail", "detail"),
    ]
    out.summary = rows
    out.rows = [r]
    out.mismatches = list(r["mismatches"])
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--full" not in sys.argv), indent=2, default=str))
