"""Command line: ``allocate demo`` and ``allocate solve PROBLEM.json``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from allocate.backends import DEFAULT_BACKEND, NAMES
from allocate.errors import AllocateError
from allocate.model import Problem, Weights
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
    common.add_argument("--out", type=Path, default=None, help="write the allocation as JSON here")
    demo = sub.add_parser("demo", parents=[common], help="solve the East Sussex 2011 reference scenario")
    demo.add_argument("--seed", type=int, default=2011)
    demo.add_argument("--infeasible", action="store_true", help="use the deliberately infeasible setting")
    solve_cmd = sub.add_parser("solve", parents=[common], help="solve a problem given as JSON")
    solve_cmd.add_argument("problem", type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from allocate.scenarios import east_sussex_2011

            problem = east_sussex_2011(args.seed, setting="infeasible" if args.infeasible else "default")
        else:
            problem = Problem.from_dict(json.loads(args.problem.read_text(encoding="utf-8")))
        weights = None
        if args.social_share is not None:
            weights = Weights(**{**problem.weights.model_dump(), "social_value_share": args.social_share})
        allocation = solve(problem, args.backend, weights=weights, time_limit=args.time_limit)
    except (AllocateError, OSError, json.JSONDecodeError) as exc:
        print(f"allocate: error: {exc}", file=sys.stderr)
        return 2
    print(summarise(problem, allocation))
    if args.out is not None:
        args.out.write_text(allocation.to_json(), encoding="utf-8")
        print(f"allocation written to {args.out}")
    return 0 if allocation.status in ("optimal", "feasible") else 1


if __name__ == "__main__":
    sys.exit(main())
