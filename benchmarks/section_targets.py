"""Issue 12's rules on the East Sussex reference: solve time with them vs without, same run.

The reference round (seeds 2011, 1, 2) is solved as it stands and again with spend targets and
tag rules added (`east_sussex.issue12_targets`: spend at least 90% of the budget and 80% of each
year's, at least 20% of the money to user-led organisations, at least five awards to new
providers, small local groups' share within 30% ± 10 pp). The acceptance bar is a time ratio
of at most 2 for each backend; both allocations are verified by `solve` itself.
"""

from __future__ import annotations

from common import Column, RunContext, Section, ratio, timed

from allocate import solve
from allocate.scenarios.east_sussex import east_sussex_2011, issue12_targets

BACKENDS = ("highs", "cpsat")
BAR = 2.0


def run(ctx: RunContext) -> Section:
    seeds = [2011] if ctx.quick else [2011, 1, 2]
    limit = 120.0
    section = Section(name="targets", title="East Sussex 2011 with spend targets and tag rules vs without")
    section.settings = {"seeds": seeds, "backends": list(BACKENDS), "time_limit_s": limit, "threads": 1}
    section.columns = [
        Column("seed", "seed", "d"),
        Column("backend", "backend"),
        Column("status", "status with rules"),
        Column("value_ratio", "value with / without", ".4f"),
        Column("seconds_without", "time without s", ".2f"),
        Column("seconds_with", "time with s", ".2f"),
        Column("time_ratio", "time with / without", ".2f"),
        Column("binding", "new rows binding", "d"),
    ]
    for seed in seeds:
        base = east_sussex_2011(seed)
        targeted = base.replace(rules=(*base.rules, *issue12_targets(base)))
        for b in BACKENDS:
            plain, t0 = timed(lambda b=b, p=base: solve(p, b, time_limit=limit))
            ruled, t1 = timed(lambda b=b, p=targeted: solve(p, b, time_limit=limit))
            new = [r for r in ruled.rules_report if r.label.startswith("MinSpend") or "tag=" in r.label]
            row = {
                "seed": seed,
                "backend": b,
                "status": ruled.status,
                "value_ratio": ratio(ruled.value, plain.value),
                "seconds_without": t0,
                "seconds_with": t1,
                "time_ratio": ratio(t1, t0),
                "binding": sum(r.binding for r in new),
            }
            if ruled.status != "optimal" or plain.status != "optimal":
                section.mismatches.append(f"seed {seed} {b}: not optimal ({plain.status}, {ruled.status})")
            elif t1 > BAR * t0:
                section.notes.append(
                    f"seed {seed} {b}: with the new rules {t1 / t0:.2f}× the time (bar {BAR}×)"
                )
            section.rows.append(row)
            section.summary.append(row)
            if ctx.verbose:
                print(f"seed {seed} {b}: {t0:.2f} s -> {t1:.2f} s", flush=True)
    return section
