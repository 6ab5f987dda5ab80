"""Run allocate's benchmarks: one command, tables on stdout, JSON in benchmarks/out/results.json.

    python benchmarks/run.py --quick            # a few minutes at most: subsets, short limits
    python benchmarks/run.py                    # full: every section at full size
    python benchmarks/run.py --sections pabulib,mknap --verbose

Sections (each compares allocate with a baseline in the same run and reports ratios):

* ``pabulib``: allocate (HiGHS, CP-SAT) vs pabutools' max-utilitarian-welfare rule on the real
  participatory budgets in bench-data/pabulib (see section_pabulib.py).
* ``mknap``: OR-Library multidimensional knapsacks, gap to the best-known value at a fixed
  time limit, per class and backend (see section_mknap.py).
* ``east_sussex``: the reference round solved by every backend vs a hand-written PuLP/CBC
  model of the same rules vs the greedy status quo (see section_east_sussex.py).
* ``scale``: build and solve time, gap and peak memory from 173 to 173k applications
  (see section_scale.py).
* ``sweep``: a what-if sweep of many weightings vs a loop that rebuilds a PuLP model per
  weighting, and the exact weight frontier's solves vs distinct allocations (section_sweep.py).
* ``analysis``: frontier, explain, robustness and a 1,000-share sweep on the reference round as
  ratios to one solve in the same run, and the small round's solve time (section_analysis.py).

The machine (CPU model, cores, RAM, Python, library and solver versions) is recorded in the
JSON. Exit status 1 when any section reports a mismatch or an error (printed loudly at the end).
Needs the ``bench`` extra: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import section_analysis
import section_east_sussex
import section_mknap
import section_pabulib
import section_scale
import section_sweep
import section_targets
from common import OUT, Column, RunContext, Section, find_data, machine, render_table, write_json

SECTIONS: dict[str, Callable[[RunContext], Section]] = {
    "pabulib": section_pabulib.run,
    "mknap": section_mknap.run,
    "east_sussex": section_east_sussex.run,
    "scale": section_scale.run,
    "sweep": section_sweep.section,
    "targets": section_targets.run,
    "analysis": section_analysis.section,
}


DEFAULT_SECTIONS = ("pabulib", "mknap", "east_sussex", "scale")


def markdown(results: dict[str, Any]) -> str:
    """The machine and every section's summary table of a results JSON, as Markdown."""
    m = results["machine"]
    out = [
        f"Run {results['started']} ({results['mode']} mode): {m['cpu_model']}, {m['usable_cores']} cores, "
        f"{m['ram_gib']} GiB RAM, Python {m['python']}; solvers: "
        + "; ".join(f"{k} {v}" for k, v in m["solvers"].items() if k != "ortools")
        + "."
    ]
    for s in results["sections"].values():
        out.append(f"\n### {s['title']} ({s['status']}, {s['seconds']:.0f} s)\n")
        if s["settings"]:
            out.append("Settings: " + ", ".join(f"{k}={v}" for k, v in s["settings"].items()) + "\n")
        if s["summary"]:
            out.append(render_table([Column(**c) for c in s["columns"]], s["summary"], markdown=True))
        for label, items in (
            ("MISMATCH", s["mismatches"]),
            ("ERROR", s["errors"]),
            ("data note", s.get("data_notes", [])),
        ):
            out += [f"- {label}: {i}" for i in items]
    return "\n".join(out)


def _load() -> float | None:
    """The 1-minute load average: other work on the machine skews timings."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="subsets and short time limits (< 2 minutes)")
    parser.add_argument(
        "--sections",
        default=",".join(DEFAULT_SECTIONS),
        help=f"comma list of {', '.join(SECTIONS)} (default: all but sweep, which takes ~20 min in full mode)",
    )
    parser.add_argument("--data", help="bench-data folder (default: shared/bench-data beside the repo)")
    parser.add_argument("--out", type=Path, default=OUT / "results.json", help="JSON output file")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="parallel MKP solves")
    parser.add_argument("--mknap-time-limit", type=float, help="seconds per mknapcb solve (quick 1, full 5)")
    parser.add_argument("--pabulib-limit", type=int, help="only the first N pabulib files (by size)")
    parser.add_argument(
        "--pabulib-backends", default="highs,cpsat", help="allocate backends in the pabulib section"
    )
    parser.add_argument("--mknap-backends", default="highs,cpsat,scipy-highs", help="MKP backends")
    parser.add_argument("--verbose", action="store_true", help="print every instance as it finishes")
    parser.add_argument(
        "--markdown", type=Path, help="print a results JSON's tables as Markdown; run nothing"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text(encoding="utf-8"))))
        return 0
    names = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}")
    options: dict[str, Any] = {
        "mknap_time_limit": args.mknap_time_limit,
        "pabulib_limit": args.pabulib_limit,
        "pabulib_backends": [b.strip() for b in args.pabulib_backends.split(",") if b.strip()],
        "mknap_backends": [b.strip() for b in args.mknap_backends.split(",") if b.strip()],
    }
    ctx = RunContext(
        quick=args.quick, data=find_data(args.data), jobs=args.jobs, verbose=args.verbose, options=options
    )
    info = machine()
    print(
        f"machine: {info['cpu_model']}, {info['usable_cores']} cores, {info['ram_gib']} GiB, "
        f"Python {info['python']}; mode: {'quick' if ctx.quick else 'full'}"
    )
    started = datetime.now(UTC).isoformat(timespec="seconds")
    sections: list[Section] = []
    for name in names:
        print(f"\n== {name} ==", flush=True)
        start, load_start = time.perf_counter(), _load()
        section = SECTIONS[name](ctx)
        section.seconds = time.perf_counter() - start
        section.settings["load_average_start_end"] = [load_start, _load()]
        sections.append(section)
        print(f"{section.title} [{section.status}, {section.seconds:.0f} s]")
        if section.settings:
            print("settings: " + ", ".join(f"{k}={v}" for k, v in section.settings.items()))
        if section.summary:
            print(render_table(section.columns, section.summary))
        for note in section.notes:
            print(f"  * {note}")
        for m in section.mismatches:
            print(f"  !! MISMATCH {m}")
        for e in section.errors:
            print(f"  !! ERROR {e}")
        for d in section.data_notes:
            print(f"  ~ data note: {d}")
    payload = {
        "started": started,
        "mode": "quick" if ctx.quick else "full",
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "data": str(ctx.data),
        "machine": info,
        "sections": {s.name: s.to_json() for s in sections},
    }
    write_json(args.out, payload)
    print(f"\nwrote {args.out}")
    mismatches = [f"{s.name}: {m}" for s in sections for m in s.mismatches]
    errors = [f"{s.name}: {e}" for s in sections for e in s.errors]
    bar = "!" * 78
    if mismatches:
        print(f"\n{bar}\n{len(mismatches)} MISMATCH(ES):\n" + "\n".join(mismatches) + f"\n{bar}")
    if errors:
        print(f"\n{bar}\n{len(errors)} ERROR(S):\n" + "\n".join(errors) + f"\n{bar}")
    return 1 if mismatches or errors else 0


if __name__ == "__main__":
    sys.exit(main())
