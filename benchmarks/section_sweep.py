"""What-if sweep and weight frontier on the East Sussex 2011 scenario.

* sweep: N social value shares (quick: 50, full: 1000) with `allocate.sweep` (one compile and
  one loaded solver session per worker, warm-started) vs a naive loop that rebuilds a
  hand-written PuLP/CBC model for every weighting (`baselines.hand_pulp`). The naive loop is
  timed on a subset of the weightings (quick: 10, full: 25) and extrapolated linearly to N;
  its values are checked against sweep's on that subset.
* frontier: solves needed by the exact dichotomic search vs distinct allocations found.

Run alone: ``python benchmarks/section_sweep.py [--full]``; ``run(quick)`` returns a dict.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from baselines import hand_pulp
from common import Column, RunContext, Section

from allocate import frontier, sweep, verify
from allocate.domain.parts import as_weights
from allocate.scenarios import east_sussex_2011

REL_TOL = 1e-6


def run(quick: bool) -> dict[str, Any]:
    problem = east_sussex_2011()
    n = 16 if quick else 1000
    n_naive = 4 if quick else 25
    shares = [float(s) for s in np.linspace(0.0, 1.0, n)]
    workers = 2

    start = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        allocations = sweep(problem, shares, executor=pool)
    sweep_seconds = time.perf_counter() - start

    start = time.perf_counter()
    # One solve per weighting (not read off the frontier): the per-solve reuse of one loaded model.
    serial = sweep(problem, shares[:: max(1, n // n_naive)][:n_naive], executor=_Serial(), method="solve")
    serial_seconds = time.perf_counter() - start

    subset = list(range(0, n, max(1, n // n_naive)))[:n_naive]
    mismatches: list[str] = [
        f"share {shares[i]:.4f}: serial sweep {a.value:.6f} vs pooled sweep {allocations[i].value:.6f}"
        for i, a in zip(subset, serial, strict=True)
        if abs(a.value - allocations[i].value) > REL_TOL * max(1.0, abs(a.value))
    ]
    start = time.perf_counter()
    for i in subset:
        w = as_weights(problem, shares[i])
        chosen, _, status = hand_pulp(problem.replace(weights=w))
        check = verify(problem, chosen, weights=w)
        if status != "Optimal" or not check.ok:
            mismatches.append(f"share {shares[i]:.4f}: PuLP status {status}, verifier ok={check.ok}")
        elif abs(check.value - allocations[i].value) > REL_TOL * max(1.0, abs(check.value)):
            mismatches.append(
                f"share {shares[i]:.4f}: PuLP value {check.value:.6f} vs sweep {allocations[i].value:.6f}"
            )
    naive_subset_seconds = time.perf_counter() - start
    naive_per_solve = naive_subset_seconds / len(subset)
    naive_seconds = naive_per_solve * n
    serial_per_solve = serial_seconds / len(subset)

    start = time.perf_counter()
    front = None if quick else frontier(problem)
    frontier_seconds = time.perf_counter() - start

    distinct_in_sweep = len({a.funded for a in allocations})
    return {
        "scenario": problem.name,
        "weightings": n,
        "sweep_workers": workers,
        "sweep_seconds": sweep_seconds,
        "sweep_serial_seconds_per_solve": serial_per_solve,
        "naive_timed_on": len(subset),
        "naive_seconds_per_solve": naive_per_solve,
        "naive_seconds_extrapolated": naive_seconds,
        "naive_extrapolated": len(subset) < n,
        "time_ratio_naive_over_sweep": naive_seconds / sweep_seconds,
        "time_ratio_naive_over_sweep_serial_per_solve": naive_per_solve / serial_per_solve,
        "values_match": not mismatches,
        "mismatches": mismatches,
        "distinct_allocations_in_sweep": distinct_in_sweep,
        "frontier_solves": front.solves if front else None,
        "frontier_points": len(front.points) if front else None,
        "frontier_breakpoints": list(front.breakpoints) if front else None,
        "frontier_seconds": frontier_seconds,
        "notes": [
            f"naive PuLP loop timed on {len(subset)} of {n} weightings and extrapolated linearly"
            if len(subset) < n
            else "naive PuLP loop timed on every weighting",
            f"sweep ran on a {workers}-process pool; the naive loop runs in one process, so the "
            "per-solve ratio (serial sweep vs naive) isolates the reuse of the compiled model",
            "frontier_solves counts every solve (4 for the two lexicographic end points, then one per "
            "probe); frontier_points are the distinct optimal allocations over shares 0..1",
        ],
    }


class _Serial:
    """A minimal in-process Executor (submit runs the call at once)."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        from concurrent.futures import Future

        fut: Future[Any] = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut

    def shutdown(self, wait: bool = True) -> None:
        return None


if __name__ == "__main__":
    import json

    result = run(quick="--full" not in sys.argv)
    print(json.dumps(result, indent=2))


def section(ctx: RunContext) -> Section:
    """run() as a Section for benchmarks/run.py."""
    r = run(ctx.quick)
    out = Section(
        name="sweep",
        title="What-if sweep on East Sussex 2011: sweep() vs rebuilding a PuLP model per weighting",
    )
    out.settings = {
        "weightings": r["weightings"],
        "sweep_workers": r["sweep_workers"],
        "naive_timed_on": r["naive_timed_on"],
    }
    out.columns = [
        Column("weightings", "weightings", "d"),
        Column("sweep_seconds", "sweep s", ".1f"),
        Column("sweep_serial_seconds_per_solve", "sweep s/solve (1 proc)", ".2f"),
        Column("naive_seconds_per_solve", "naive s/solve", ".2f"),
        Column("time_ratio_naive_over_sweep", "naive / sweep", ".2f"),
        Column("time_ratio_naive_over_sweep_serial_per_solve", "naive / sweep per solve", ".2f"),
        Column("distinct_allocations_in_sweep", "distinct allocations", "d"),
        Column("frontier_points", "frontier points", ""),
        Column("frontier_solves", "frontier solves", ""),
    ]
    out.summary = [r]
    out.rows = [r]
    out.mismatches = list(r["mismatches"])
    out.notes = list(r["notes"])
    return out
