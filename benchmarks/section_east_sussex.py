"""East Sussex 2011 reference: allocate vs a hand-written PuLP/CBC model vs greedy, same run.

For each seed, every allocate backend solves the reference round to proven optimality; the
hand-written PuLP model (benchmarks/baselines.py) is what an analyst would write for the same
rules; greedy is the status quo "rank by panel score and fund down the list". All answers are
checked by allocate's verifier: greedy's broken rules are counted, not hidden.
"""

from __future__ import annotations

from typing import Any

from baselines import greedy, hand_pulp
from common import Column, RunContext, Section, ratio, timed

from allocate import solve, verify
from allocate.scenarios import east_sussex_2011

BACKENDS = ("highs", "cpsat")


def run(ctx: RunContext) -> Section:
    seeds = [2011] if ctx.quick else [2011, 1, 2]
    backends = ("cpsat",) if ctx.quick else BACKENDS
    limit = 60.0
    section = Section(name="east_sussex", title="East Sussex 2011: allocate vs hand-written PuLP vs greedy")
    section.settings = {"seeds": seeds, "backends": list(backends), "time_limit_s": limit, "threads": 1}
    section.columns = [
        Column("seed", "seed", "d"),
        Column("method", "method"),
        Column("status", "status"),
        Column("awards", "awards", "d"),
        Column("value", "value", ",.0f"),
        Column("value_ratio", "value / optimum", ".4f"),
        Column("seconds", "time s", ".2f"),
        Column("time_ratio", "time / hand-PuLP", ".3f"),
        Column("broken", "rules broken", "d"),
    ]
    for seed in seeds:
        problem = east_sussex_2011(seed)
        (chosen_pulp, pulp_seconds, pulp_status), _ = timed(lambda p=problem: hand_pulp(p, limit))
        rows: list[dict[str, Any]] = []
        best = None
        for b in backends:
            alloc, seconds = timed(lambda b=b, p=problem: solve(p, b, time_limit=limit))
            best = alloc.value if best is None else max(best, alloc.value)
            rows.append(
                {
                    "seed": seed,
                    "method": f"allocate/{b}",
                    "status": alloc.status,
                    "awards": len(alloc.awards),
                    "value": alloc.value,
                    "seconds": seconds,
                    "broken": 0,
                }
            )
        check = verify(problem, chosen_pulp, tolerance=1.0)
        rows.append(
            {
                "seed": seed,
                "method": "hand-written PuLP/CBC",
                "status": pulp_status.lower(),
                "awards": len(chosen_pulp),
                "value": check.value,
                "seconds": pulp_seconds,
                "broken": len(check.violations),
            }
        )
        chosen_greedy, greedy_seconds = greedy(problem)
        g = verify(problem, chosen_greedy, tolerance=1.0)
        rows.append(
            {
                "seed": seed,
                "method": "greedy (rank by score)",
                "status": "heuristic",
                "awards": len(chosen_greedy),
                "value": g.value,
                "seconds": greedy_seconds,
                "broken": len(g.violations),
            }
        )
        for r in rows:
            r["value_ratio"] = ratio(r["value"], best)
            r["time_ratio"] = ratio(r["seconds"], pulp_seconds)
        values = [r["value"] for r in rows if r["method"].startswith("allocate") and r["status"] == "optimal"]
        if values and max(values) - min(values) > 1e-6 * max(values):
            section.mismatches.append(f"seed {seed}: allocate backends disagree on the optimum: {values}")
        if check.violations:
            section.mismatches.append(
                f"seed {seed}: hand-written PuLP model broke rules: {check.violations[:3]}"
            )
        elif best is not None and check.value > best * (1 + 1e-9):
            section.mismatches.append(
                f"seed {seed}: hand PuLP found more value ({check.value}) than allocate ({best})"
            )
        elif best is not None and check.value < best * (1 - 1e-9):
            section.notes.append(
                f"seed {seed}: hand-written PuLP/CBC stopped at {check.value:,.0f}, below the optimum {best:,.0f} (CBC's integer preprocessing; allocate turns it off)"
            )
        if g.violations:
            section.notes.append(
                f"seed {seed}: greedy broke {len(g.violations)} rule rows, e.g. {', '.join(v.split(':')[0] for v in g.violations[:4])}"
            )
        section.summary.extend(rows)
        section.rows.extend(rows)
        if ctx.verbose:
            print(f"seed {seed} done", flush=True)
    return section
