"""Command line: ``allocate demo | solve | equality | explain | report | whatif | sweep | bench``.

PROBLEM is a .json file, an .xlsx workbook or a folder of CSV files (see docs/data.md).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import TextIO

from allocate.analysis.equality import equality_summary
from allocate.domain.errors import AllocateError
from allocate.domain.model import Problem
from allocate.domain.parts import Weights
from allocate.engine.backends import DEFAULT_BACKEND, NAMES
from allocate.engine.solve import solve
from allocate.io import atomic, publisher
from allocate.io.read import read_problem
from allocate.io.threesixty import write_360giving_csv, write_360giving_json
from allocate.io.transparency import write_transparency_csv
from allocate.io.write import write_allocation, write_csv
from allocate.presentation.progress import progress_bar
from allocate.presentation.summary import summarise

MAX_STEPS = 100_001
"""The most shares `allocate sweep --steps` takes (a thousandth of a percent apart)."""


def _number(text: str, what: str, ok: Callable[[float], bool]) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and ok(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def _seconds(text: str) -> float:
    return _number(text, "a number of seconds > 0", lambda v: v > 0)


def _share(text: str) -> float:
    return _number(text, "a share from 0 to 1", lambda v: 0 <= v <= 1)


def _steps(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 2 <= value <= MAX_STEPS:
        raise argparse.ArgumentTypeError(f"{value} is not from 2 to {MAX_STEPS:,}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="allocate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--backend", choices=NAMES, default=DEFAULT_BACKEND)
    common.add_argument("--time-limit", type=_seconds, default=None, help="seconds")
    common.add_argument(
        "--certify",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="have a second, different solver confirm the answer (default: on; about doubles the time)",
    )
    common.add_argument(
        "--social-share", type=_share, default=None, help="social value share of the score, 0..1"
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
    common.add_argument(
        "--transparency", type=Path, default=None, help="write the Transparency Code grant fields as .csv"
    )
    publisher.add_flags(common)
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
    sweep_cmd = sub.add_parser("sweep", help="solve many social value shares (progress bar), print a table")
    sweep_cmd.add_argument("problem", type=Path, nargs="?", default=None)
    sweep_cmd.add_argument("--demo", action="store_true", help="use the East Sussex 2011 scenario")
    sweep_cmd.add_argument(
        "--steps", type=_steps, default=11, help=f"shares 0, 1/(steps-1), ..., 1 (2..{MAX_STEPS:,})"
    )
    sweep_cmd.add_argument("--backend", choices=NAMES, default=DEFAULT_BACKEND)
    sweep_cmd.add_argument("--out", type=Path, default=None, help="write the table as CSV here")
    bench = sub.add_parser("bench", help="East Sussex reference: every backend vs the greedy status quo")
    bench.add_argument("--seed", type=int, default=2011)
    bench.add_argument("--time-limit", type=_seconds, default=120.0)
    diagnose_cmd = sub.add_parser("diagnose", help="which rules clash, and the least change that fixes it")
    diagnose_cmd.add_argument("problem", type=Path, nargs="?", default=None)
    diagnose_cmd.add_argument("--demo", action="store_true", help="East Sussex 2011, infeasible setting")
    diagnose_cmd.add_argument("--backend", choices=NAMES, default=DEFAULT_BACKEND)
    robust_cmd = sub.add_parser("robustness", help="funding probabilities under score noise")
    robust_cmd.add_argument("problem", type=Path, nargs="?", default=None)
    robust_cmd.add_argument("--demo", action="store_true", help="use the East Sussex 2011 scenario")
    robust_cmd.add_argument("--samples", type=int, default=100, help="noisy re-scorings to solve")
    robust_cmd.add_argument("--seed", type=int, default=0)
    robust_cmd.add_argument("--panel-sd", type=float, default=2.0, help="outcome-score bias per panel (SD)")
    robust_cmd.add_argument("--score-sd", type=float, default=4.0, help="outcome-score noise per bid (SD)")
    robust_cmd.add_argument("--social-sd", type=float, default=0.0, help="noise per social score (SD)")
    robust_cmd.add_argument("--backend", choices=NAMES, default=DEFAULT_BACKEND)
    explain_cmd = sub.add_parser(
        "explain", help="solve, then the outcome of every application with its reason (feedback table)"
    )
    explain_cmd.add_argument("problem", type=Path, nargs="?", default=None)
    explain_cmd.add_argument("--demo", action="store_true", help="use the East Sussex 2011 scenario")
    explain_cmd.add_argument(
        "--application", action="append", default=None, metavar="ID", help="only this application (repeat)"
    )
    explain_cmd.add_argument("--backend", choices=NAMES, default=DEFAULT_BACKEND)
    explain_cmd.add_argument("--out", type=Path, default=None, help="write the table as .csv or .xlsx")
    report = sub.add_parser("report", help="solve and write a self-contained HTML report")
    report.add_argument("problem", type=Path, nargs="?", default=None)
    report.add_argument("--demo", action="store_true", help="use the East Sussex 2011 scenario")
    report.add_argument("--frontier", action="store_true", help="include the weight frontier (slow)")
    report.add_argument(
        "--explain", type=int, default=0, metavar="N", help="explain the first N applications"
    )
    report.add_argument(
        "--margins", action="store_true", help="each application's exact margin in the outcome table (slower)"
    )
    report.add_argument("--backend", choices=NAMES, default=DEFAULT_BACKEND)
    report.add_argument("--out", type=Path, required=True, help="the .html file to write")
    whatif = sub.add_parser(
        "whatif", help="write a self-contained HTML page with a slider over the social value share"
    )
    whatif.add_argument("problem", type=Path, nargs="?", default=None)
    whatif.add_argument("--demo", action="store_true", help="use the East Sussex 2011 scenario")
    whatif.add_argument("--backend", choices=NAMES, default=DEFAULT_BACKEND)
    whatif.add_argument("--time-limit", type=float, default=None, help="seconds per solve")
    whatif.add_argument("--out", type=Path, required=True, help="the .html file to write")
    return parser


def _one_round(args: argparse.Namespace) -> bool:
    """Whether exactly one of a round FILE and --demo was given (else say so on stderr)."""
    if args.demo == (args.problem is not None):
        print("allocate: error: give a problem FILE or --demo", file=sys.stderr)
        return False
    return True


def _round(args: argparse.Namespace) -> Problem:
    """The round a command works on: the East Sussex 2011 reference with --demo, else the FILE."""
    if args.demo:
        from allocate.scenarios import east_sussex_2011

        return east_sussex_2011()
    return read_problem(args.problem)


def _whatif(args: argparse.Namespace) -> int:
    """Compute the exact frontier and write the what-if page; no file unless all of it succeeds."""
    from allocate.engine.options import SolverOptions
    from allocate.io import atomic
    from allocate.presentation.whatif_page import whatif_page

    try:
        problem = _round(args)
        with progress_bar("what-if page: the weight frontier, then ties") as step:
            options = SolverOptions(time_limit=args.time_limit)
            page = whatif_page(problem, backend=args.backend, options=options, progress=step)
        atomic.write_text(args.out, page)
    except (AllocateError, OSError, json.JSONDecodeError) as exc:
        return _error(exc)
    print(f"what-if page written to {args.out} ({len(page.encode('utf-8')):,} bytes)")
    return 0


def _report(args: argparse.Namespace) -> int:
    from allocate.analysis.explain import explain
    from allocate.analysis.frontier import frontier
    from allocate.presentation.outcomes import outcomes
    from allocate.presentation.report import html_report

    try:
        problem = _round(args)
        allocation = solve(problem, args.backend)
        front = None
        if args.frontier:
            with progress_bar("weight frontier: solves") as step:
                front = frontier(problem, args.backend, progress=step)
        wanted = [a.id for a in problem.applications[: args.explain]]
        expl = None
        if wanted:
            with progress_bar("explaining: re-solves") as step:
                expl = explain(problem, allocation, args.backend, applications=wanted, progress=step)
        rows = outcomes(problem, allocation, args.backend) if args.margins and allocation.awards else None
        atomic.write_text(
            args.out, html_report(problem, allocation, frontier=front, explanations=expl, outcomes=rows)
        )
    except (AllocateError, OSError, json.JSONDecodeError) as exc:
        return _error(exc)
    print(summarise(problem, allocation))
    print(f"report written to {args.out}")
    return 0 if allocation.status in ("optimal", "feasible") else 1


def _explain(args: argparse.Namespace) -> int:
    """Solve, then print (and optionally write) every application's outcome and reason."""
    from allocate.io.outcomes import write_outcomes
    from allocate.presentation.outcome_table import summary
    from allocate.presentation.outcomes import outcomes

    try:
        problem = _round(args)
        unknown = [a for a in args.application or () if a not in {x.id for x in problem.applications}]
        if unknown:
            print(f"allocate: error: --application: unknown application {unknown[0]!r}", file=sys.stderr)
            return 2
        allocation = solve(problem, args.backend)
        if allocation.status not in ("optimal", "feasible"):
            print(summarise(problem, allocation))
            return 1
        rows = outcomes(problem, allocation, args.backend, applications=args.application)
        print(summary(rows))
        if args.out is not None:
            write_outcomes(rows, args.out)
            print(f"outcomes written to {args.out}")
    except (AllocateError, OSError, json.JSONDecodeError) as exc:
        return _error(exc)
    return 0


def _bench(seed: int, time_limit: float) -> int:
    """Solve the East Sussex reference with every backend and the greedy status quo; print ratios."""
    import time

    from allocate.engine.greedy import rank_and_fund
    from allocate.engine.verify import verify
    from allocate.presentation.summary import pounds
    from allocate.scenarios import east_sussex_2011

    problem = east_sussex_2011(seed)
    rows: list[tuple[str, str, int, float, int, float, int]] = []
    for name in NAMES:
        start = time.perf_counter()
        a = solve(problem, name, time_limit=time_limit)
        rows.append((name, a.status, len(a.awards), a.value, a.total, time.perf_counter() - start, 0))
    start = time.perf_counter()
    chosen = rank_and_fund(problem)
    g = verify(problem, chosen)
    rows.append(
        ("greedy", "heuristic", len(chosen), g.value, g.total, time.perf_counter() - start, len(g.violations))
    )
    best = max(r[3] for r in rows[:-1]) or 1.0
    fastest = (
        min(r[5] for r in rows[:-1] if r[1] == "optimal") if any(r[1] == "optimal" for r in rows) else 1.0
    )
    print(f"East Sussex 2011 reference, seed {seed}, time limit {time_limit:g} s, one thread")
    print(
        f"{'method':<8} {'status':<10} {'awards':>6} {'value':>13} {'value/opt':>9} {'awarded':>15} {'time s':>8} {'time/fastest':>12} {'rules broken':>12}"
    )
    for name, status, n, value, total, seconds, broken in rows:
        print(
            f"{name:<8} {status:<10} {n:>6} {value:>13,.1f} {value / best:>9.4f} {pounds(total):>15} "
            f"{seconds:>8.2f} {seconds / fastest:>12.2f} {broken:>12}"
        )
    return 0


def _sweep(problem: Problem, shares: list[float], backend: str, out: Path | None) -> int:
    """Solve every social value share with a Rich progress bar; print (and optionally save) a table."""
    from rich.console import Console
    from rich.table import Table

    from allocate.analysis.whatif import sweep

    with progress_bar(f"sweep: {len(shares)} social value shares") as step:
        results = sweep(problem, shares, backend, progress=step)
    table = Table(title=f"{problem.name}: value by social value share")
    for column in ("share", "status", "awards", "value", "outcome", "social", "awarded £"):
        table.add_column(column, justify="right")
    lines = ["share,status,awards,value,value_outcome,value_social,total_pence"]
    for share, a in zip(shares, results, strict=True):
        table.add_row(
            f"{share:.3f}",
            a.status,
            str(len(a.awards)),
            f"{a.value:,.1f}",
            f"{a.value_outcome:,.1f}",
            f"{a.value_social:,.1f}",
            f"{a.total / 100:,.2f}",
        )
        lines.append(
            f"{share},{a.status},{len(a.awards)},{a.value},{a.value_outcome},{a.value_social},{a.total}"
        )
    Console(width=120).print(table)
    if out is not None:
        atomic.write_text(out, "\n".join(lines) + "\n")
        print(f"sweep written to {out}")
    return 0


def _analysis(args: argparse.Namespace) -> int:
    """`allocate diagnose` and `allocate robustness`: print the analysis's text."""
    try:
        from allocate.scenarios import east_sussex_2011

        if args.command == "diagnose":
            from allocate.analysis.diagnose import diagnose

            problem = east_sussex_2011(setting="infeasible") if args.demo else read_problem(args.problem)
            with progress_bar("diagnosing: the clash, then the least fixes") as step:
                found = diagnose(problem, args.backend, progress=step)
            print(found.text())
            return 0 if found.feasible else 1
        from allocate.analysis.robustness import ScoreNoise, robustness

        problem = east_sussex_2011() if args.demo else read_problem(args.problem)
        noise = ScoreNoise(panel_sd=args.panel_sd, score_sd=args.score_sd, social_sd=args.social_sd)
        with progress_bar(f"robustness: {args.samples} noisy re-scorings") as step:
            r = robustness(problem, noise, args.samples, args.seed, backend=args.backend, progress=step)
        print(r.text())
    except (AllocateError, OSError, ValueError, json.JSONDecodeError) as exc:
        return _error(exc)
    return 0


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread like KeyboardInterrupt, so every solve stops and no file
    is written (allocate.engine.backends.stop)."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit codes: 0 done; 1 no allocation meets the rules (no file written);
    2 bad input, arguments or output path (one line on stderr); 130 interrupted (Ctrl-C);
    143 terminated (SIGTERM). Interrupted or terminated, running solves stop within a second
    and no output file is written."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    with _quiet_if_stdout_closes():
        try:
            return _main(argv)
        except KeyboardInterrupt:
            print("allocate: interrupted", file=sys.stderr)
            return 130
        except _Terminated:
            print("allocate: terminated", file=sys.stderr)
            return 128 + signal.SIGTERM
        except (AllocateError, OSError) as exc:
            return _error(exc)
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)


def _error(exc: BaseException) -> int:
    """Print an error on one line; exit code 2."""
    if isinstance(exc, OSError) and exc.filename is not None:
        text = f"{exc.filename}: {exc.strerror or exc}"
    else:
        text = str(exc)
    print(f"allocate: error: {' '.join(text.split())}", file=sys.stderr)
    return 2


@contextmanager
def _quiet_if_stdout_closes() -> Iterator[None]:
    """`allocate solve x.json | head`: once stdout's reader has gone, output is dropped and the
    command carries on (its files are still written), with no BrokenPipeError traceback."""
    real = sys.stdout
    sys.stdout = guarded = _PipeGuard(real)
    try:
        yield
    finally:
        sys.stdout = real
        if guarded.broken:  # Python flushes stdout at exit: into the closed pipe, that would fail
            with suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), real.fileno())


class _PipeGuard(io.TextIOBase):
    """A text stream writing to another until it reports a closed pipe, then to nowhere."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self.stream.write(text)
            except BrokenPipeError:
                self.broken = True
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self.broken = True

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding


def _main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    on_one_round = {
        "diagnose": _analysis,
        "robustness": _analysis,
        "report": _report,
        "explain": _explain,
        "whatif": _whatif,
    }
    if args.command in on_one_round:  # a round FILE or --demo, exactly one
        return on_one_round[args.command](args) if _one_round(args) else 2
    try:
        if args.command == "bench":
            return _bench(args.seed, args.time_limit)
        if args.command == "sweep":
            if (args.problem is None) == (not args.demo):
                print("allocate: error: give a PROBLEM or --demo", file=sys.stderr)
                return 2
            if args.demo:
                from allocate.scenarios import east_sussex_2011

                round_ = east_sussex_2011()
            else:
                round_ = read_problem(args.problem)
            shares = [i / (args.steps - 1) for i in range(args.steps)]
            return _sweep(round_, shares, args.backend, args.out)
    except (AllocateError, OSError, json.JSONDecodeError) as exc:
        return _error(exc)
    try:
        if args.command == "demo":
            from allocate.scenarios import east_sussex_2011

            problem = east_sussex_2011(args.seed, setting="infeasible" if args.infeasible else "default")
        else:
            problem = read_problem(args.problem)
        publishing = args.threesixty is not None or args.transparency is not None
        source = getattr(args, "problem", None)  # checked before solving: a missing publisher writes nothing
        pub = (
            publisher.publisher_for(
                problem, publisher.from_flags(args, source), department=args.transparency is not None
            )
            if publishing
            else None
        )
        weights = None
        if args.social_share is not None:
            weights = Weights(**{**problem.weights.model_dump(), "social_value_share": args.social_share})
        allocation = solve(
            problem, args.backend, weights=weights, time_limit=args.time_limit, certify=args.certify
        )
    except (AllocateError, OSError, json.JSONDecodeError) as exc:
        return _error(exc)
    if args.command == "equality":
        summary = equality_summary(problem, allocation)
        print(summary.text())
    else:
        print(summarise(problem, allocation))
    if allocation.status not in ("optimal", "feasible"):
        if any(
            f is not None for f in (args.out, args.threesixty, args.transparency, getattr(args, "csv", None))
        ):
            print("allocate: no allocation, so no file was written", file=sys.stderr)
        return 1
    try:
        if args.command == "equality" and args.csv is not None:
            write_csv(args.csv, *summary.to_rows())
            print(f"equality summary written to {args.csv}")
        if args.out is not None:
            write_allocation(problem, allocation, args.out)
            print(f"allocation written to {args.out}")
        if args.threesixty is not None:
            if args.threesixty.suffix.lower() == ".json":
                write_360giving_json(problem, allocation, args.threesixty, pub)
            else:
                write_360giving_csv(problem, allocation, args.threesixty, pub)
            print(f"360Giving grants written to {args.threesixty}")
        if args.transparency is not None:
            write_transparency_csv(problem, allocation, args.transparency, pub)
            print(f"Transparency Code grants written to {args.transparency}")
    except (AllocateError, OSError) as exc:
        return _error(exc)
    return 0 if allocation.status in ("optimal", "feasible") else 1


if __name__ == "__main__":
    sys.exit(main())
