"""Differential fuzz of the backends: N random rounds, each solved by every backend, judged against each other.

    python benchmarks/fuzz.py 300 --jobs 2
    python benchmarks/fuzz.py 2000 --seed 7 --backends cpsat,highs --time-limit 10 --save-dir /tmp/f

Round i of seed S is `tests/fuzzing.seeded_round(S, i)`: the same on every machine, whatever N
(``--driver hypothesis`` draws the rounds with hypothesis instead, reproducible for the same
seed, N and hypothesis version, but slower). Each round is solved with each backend (one
thread, no diagnosis, --time-limit) in worker processes (spawned: forking after a solver has
run deadlocks), the answers are judged by `tests/fuzzing.classify`, and every failing round is
saved as ``{"what_happens": ..., "problem": ...}`` in --save-dir, the format of the shared
reliability rounds. Prints a line per round, then the counts table. Exit status 1 if any round
fails.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the generator and the judge live with the tests

import allocate  # noqa: E402
from allocate import InvalidProblemError, Problem  # noqa: E402
from fuzzing import (  # noqa: E402
    Round,
    RoundRecord,
    classify,
    describe,
    format_table,
    generate_rounds,
    round_json,
    seeded_round,
)

STATUS_CODE = {"optimal": "O", "feasible": "F", "infeasible": "I", "no_solution": "N"}
"""One letter per backend in the progress lines; R refused, V VerificationError, E other exception."""


def status_code(rec: RoundRecord) -> str:
    out = ""
    for run in rec.runs.values():
        if run.status is not None:
            out += STATUS_CODE.get(run.status, "?")
        elif run.refused:
            out += "R"
        else:
            out += "V" if run.error_type == "VerificationError" else "E"
    return out


def solve_one(
    index: int, data: dict[str, Any], backends: list[str], time_limit: float
) -> tuple[int, RoundRecord]:
    """Classify one round given as JSON data (exactly what a saved file reproduces). Runs in a worker."""
    try:
        problem: Round = Problem.from_dict(data)
    except InvalidProblemError:
        problem = data  # refused at validation: solve() refuses it too, and that is counted
    return index, classify(problem, backends, time_limit)


def generate(n: int, seed: int, driver: str) -> list[dict[str, Any]]:
    """The rounds as JSON data."""
    rounds = generate_rounds(n, seed) if driver == "hypothesis" else [seeded_round(seed, i) for i in range(n)]
    return [round_json(r) for r in rounds]


def save(rec: RoundRecord, data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"what_happens": rec.what_happens(), "problem": data}, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, help="number of rounds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backends", default=",".join(allocate.BACKENDS))
    ap.add_argument("--time-limit", type=float, default=30.0, help="seconds per solve")
    ap.add_argument("--save-dir", type=Path, default=Path("/tmp/fuzz-failures"))
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("--driver", choices=["random", "hypothesis"], default="random")
    ap.add_argument("--json", type=Path, help="also write every round's record here")
    args = ap.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in allocate.BACKENDS]
    if unknown:
        ap.error(f"unknown backend {unknown[0]!r}; choose from {', '.join(allocate.BACKENDS)}")

    start = time.perf_counter()
    rounds = generate(args.n, args.seed, args.driver)
    gen_seconds = time.perf_counter() - start
    print(
        f"{args.n} rounds (seed {args.seed}, {args.driver}) generated in {gen_seconds:.1f} s "
        f"({1000 * gen_seconds / max(1, args.n):.1f} ms/round); backends {','.join(backends)}, "
        f"time limit {args.time_limit:g} s, {args.jobs} job(s)"
    )
    print(
        f"status letters per backend ({','.join(backends)}): O optimal, F feasible, I infeasible, "
        "N no solution, R refused, V VerificationError, E other exception"
    )

    records: dict[int, RoundRecord] = {}
    failing: list[Path] = []
    solve_start = time.perf_counter()

    def report(index: int, rec: RoundRecord) -> None:
        records[index] = rec
        seconds = sum(r.seconds for r in rec.runs.values())
        line = f"[{len(records):>{len(str(args.n))}}/{args.n}] round {index:<5} {status_code(rec)}  {seconds:6.2f} s  "
        line += describe(rounds[index])[:70]
        if rec.failing:
            path = args.save_dir / f"seed{args.seed}_round_{index}.json"
            save(rec, rounds[index], path)
            failing.append(path)
            line += f"\n      FAIL {rec.what_happens()[:300]}"
        print(line, flush=True)

    if args.jobs <= 1:
        for i, data in enumerate(rounds):
            report(*solve_one(i, data, backends, args.time_limit))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
            futures = [pool.submit(solve_one, i, d, backends, args.time_limit) for i, d in enumerate(rounds)]
            for future in as_completed(futures):
                report(*future.result())
    wall = time.perf_counter() - solve_start

    ordered = [records[i] for i in sorted(records)]
    print()
    print(format_table(ordered, backends))
    print(summary(ordered, backends, wall, gen_seconds, args.jobs))
    print(f"failing rounds: {len(failing)}, saved in {args.save_dir}" if failing else "failing rounds: 0")
    if args.json:
        args.json.write_text(json.dumps({str(i): records[i].to_json() for i in sorted(records)}, indent=1))
    return 1 if failing else 0


def summary(records: list[RoundRecord], backends: list[str], wall: float, gen: float, jobs: int) -> str:
    """Rounds by outcome, and where the time went."""
    n = len(records)
    refused_all = sum(1 for r in records if r.refused and not r.partial_refusal)
    partial = sum(1 for r in records if r.partial_refusal)
    feasible = sum(1 for r in records if r.best is not None)
    infeasible = sum(1 for r in records if all(x.status == "infeasible" for x in r.runs.values()))
    per_round = [sum(x.seconds for x in r.runs.values()) for r in records]
    lines = [
        f"rounds: {n} ({feasible} with a verified allocation, {infeasible} infeasible by every backend, "
        f"{refused_all} refused by every backend, {partial} refused by some backend while another answers, "
        f"{sum(1 for r in records if r.failing)} failing)",
        f"time: generation {1000 * gen / max(1, n):.1f} ms/round; solving {wall:.1f} s wall with {jobs} job(s) = "
        f"{wall / max(1, n):.3f} s/round; all backends together {statistics.mean(per_round or [0]):.3f} s/round "
        f"(median {statistics.median(per_round or [0]):.3f}, max {max(per_round or [0]):.1f})",
        "mean seconds per solve: "
        + ", ".join(
            f"{b} {statistics.mean([r.runs[b].seconds for r in records] or [0]):.3f} "
            f"(max {max([r.runs[b].seconds for r in records] or [0]):.1f})"
            for b in backends
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
