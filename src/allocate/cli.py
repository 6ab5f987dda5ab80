"""Command line: ``allocate demo``, ``allocate solve PROBLEM`` and ``allocate equality PROBLEM``.

PROBLEM is a .json file, an .xlsx workbook or a folder of CSV files (see docs/data.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from allocate.backends import DEFAULT_BACKEND, NAMES
from allocate.equality import equality_summary
from allocate.errors import AllocateError
from allocate.io.read import read_problem
from allocate.io.threesixty import write_360giving_csv, write_360giving_json
from allocate.io.write import write_allocation, write_csv
from allocate.model import Weights
from allocate.solve import solve
from allocate.summary import summarise


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="allocate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--backend", choices=NAMES, default=DEFAULT_BACKEND)
    common.add_argument("--time-limit", type=float, default=None, help="seconds")
    common.add_argument(
        "--social-share", type=float, default=None, help="social value share of the score, 0..1"
    )
    common.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the allocation here: .json (complete), .csv or .xlsx (schedule)",
    )
    common.add_argument(
        "--360giving",
        dest="threesixty",
        type=Path,
        default=None,
        help="write the awards as 360Giving .csv (or .json)",
    )
    demo = sub.add_parser("demo", parents=[common], help="solve the East Sussex 2011 reference scenario")
    demo.add_argument("--seed", type=int, default=2011)
    demo.add_argument("--infeasible", action="store_true", help="use the deliberately infeasible setting")
    solve_cmd = sub.add_parser("solve", parents=[common], help="solve a problem (.json, .xlsx or CSV folder)")
    solve_cmd.add_argument("problem", type=Path)
    equality = sub.add_parser(
        "equality", parents=[common], help="solve and print the equality impact summary"
    )
    equality.add_argument("problem", type=Path)
    equality.add_argument("--csv", type=Path, default=None, help="also write the summary as CSV here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from allocate.scenarios import east_sussex_2011

            problem = east_sussex_2011(args.seed, setting="infeasible" if args.infeasible else "default")
        else:
            problem = read_problem(args.problem)
        weights = None
        if args.social_share is not None:
            weights = Weights(**{**problem.weights.model_dump(), "social_value_share": args.social_share})
        allocation = solve(problem, args.backend, weights=weights, time_limit=args.time_limit)
    except (AllocateError, OSError, json.JSONDecodeError) as exc:
        print(f"allocate: error: {exc}", file=sys.stderr)
        return 2
    if args.command == "equality":
        summary = equality_summary(problem, allocation)
        print(summary.text())
        if args.csv is not None:
            write_csv(args.csv, *summary.to_rows())
    else:
        print(summarise(problem, allocation))
    try:
        if args.out is not None:
            write_allocation(problem, allocation, args.out)
            print(f"allocation written to {args.out}")
        if args.threesixty is not None:
            if args.threesixty.suffix.lower() == ".json":
                write_360giving_json(problem, allocation, args.threesixty)
            else:
                write_360giving_csv(problem, allocation, args.threesixty)
            print(f"360Giving grants written to {args.threesixty}")
    except (AllocateError, OSError) as exc:
        print(f"allocate: error: {exc}", file=sys.stderr)
        return 2
    return 0 if allocation.status in ("optimal", "feasible") else 1


if __name__ == "__main__":
    sys.exit(main())
