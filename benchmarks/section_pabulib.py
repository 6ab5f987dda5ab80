"""Pabulib section: allocate vs pabutools' max-utilitarian-welfare rule on real PB instances.

For each ``.pb`` file, in the same process and run:

* pabutools 1.2.3: ``parse_pabulib``; then the satisfaction totals of each project from the
  ballots (``Cardinality_Sat`` for approval, choose-1 and ordinal ballots, i.e. number of
  ballots naming the project; ``Additive_Cardinal_Sat`` for cumulative and scoring ballots,
  i.e. summed points), timed on files up to TALLY_MAX voters × projects; then
  ``max_additive_utilitarian_welfare`` with its default primal/dual knapsack algorithm
  (``pabutools``) and with its ILP algorithm (CBC through PuLP, ``pabutools-ilp``).
  ``max_additive_utilitarian_welfare(instance, profile, sat_class=...)`` as a user calls it
  does exactly tally + knapsack. The rule is handed allocate's per-project tallies, so both
  sides optimise identical numbers; where pabutools' own tallies differ (duplicate entries
  in a ballot, see RESULTS.md) that is listed as a data note, not a mismatch.
* allocate: ``load_pabulib`` (votes column for approval-like files, summed ballot points for
  cumulative ones), then ``solve(problem, "highs")`` and ``solve(problem, "cpsat")``, each
  timed end to end (compile, solve, verify, report).

Checks (mismatches are reported loudly and make run.py exit 1): every method reaches the
same welfare, computed exactly; allocate proves optimality; for approval-like files the
welfare equals the exact knapsack optimum stored in bench-data/pabulib/index.csv.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

from common import Column, RunContext, Section, geomean, median, ratio, timed

from allocate import AllocateError, Allocation, Problem, solve
from allocate.scenarios.pabulib import APPROVAL_LIKE, load_pabulib, pabulib_welfare

BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("1-20 projects", 1, 20),
    ("21-50", 21, 50),
    ("51-100", 51, 100),
    ("101-220", 101, 10**9),
)
QUICK_MAX_WORK = 1_000_000
"""Quick mode takes files with at most this many voters × projects (pabutools' parse and
tally time grow with it)."""
QUICK_COUNT = 16
TALLY_MAX = 2_000_000
"""pabutools' own ballot tally (Python, ~3.6 µs per voter × project) is timed only on files up
to this many voters × projects; larger files would take ~15 minutes in all."""


class Totals:
    """Precomputed project totals, duck-typed as pabutools' GroupSatisfactionMeasure.

    The welfare rule only calls ``total_satisfaction_project``; giving it the totals lets us
    time the knapsack algorithm apart from the ballot tally.
    """

    def __init__(self, totals: dict[Any, Any]) -> None:
        self.totals = totals

    def total_satisfaction_project(self, project: Any) -> Any:
        return self.totals[project]


def _exact(value: Any) -> Fraction:
    return Fraction(str(value))


def _plain(value: Fraction) -> int | Fraction:
    """An int when whole: pabutools' own tallies are ints, and Fraction arithmetic is slower."""
    return int(value) if value.denominator == 1 else value


def select(index: list[dict[str, str]], quick: bool) -> list[dict[str, str]]:
    """Every file (full), or a deterministic spread over sizes and vote types (quick)."""
    if not quick:
        return index
    small = sorted(
        (r for r in index if int(r["num_votes"]) * int(r["n_projects"]) <= QUICK_MAX_WORK),
        key=lambda r: (int(r["n_projects"]), r["file"]),
    )
    chosen: dict[str, dict[str, str]] = {}
    per_bucket = QUICK_COUNT // len(BUCKETS)
    for _, lo, hi in BUCKETS:
        bucket = [r for r in small if lo <= int(r["n_projects"]) <= hi]
        step = max(1, len(bucket) // per_bucket)
        chosen.update((r["file"], r) for r in bucket[::step][:per_bucket])
    for vote_type in sorted({r["vote_type"] for r in small}):
        if not any(r["vote_type"] == vote_type for r in chosen.values()):
            last = next(r for r in reversed(small) if r["vote_type"] == vote_type)
            chosen[last["file"]] = last
    return sorted(chosen.values(), key=lambda r: (int(r["n_projects"]), r["file"]))


def _pabutools() -> tuple[Callable[..., Any], Callable[..., Any], dict[str, Any], Any]:
    from pabutools.election import Additive_Cardinal_Sat, Cardinality_Sat, parse_pabulib
    from pabutools.rules import MaxAddUtilWelfareAlgo, max_additive_utilitarian_welfare

    sat = {"cumulative": Additive_Cardinal_Sat, "scoring": Additive_Cardinal_Sat}
    sat.update(dict.fromkeys(APPROVAL_LIKE, Cardinality_Sat))
    return parse_pabulib, max_additive_utilitarian_welfare, sat, MaxAddUtilWelfareAlgo.ILP_SOLVER


def fast_totals(profile: Any, points: bool) -> dict[Any, Any]:
    """Each project's tally from pabutools' parsed ballots in one pass (same numbers as its
    Cardinality_Sat / Additive_Cardinal_Sat totals, much faster on 100k-voter files)."""
    totals: dict[Any, Any] = {}
    for ballot in profile:
        if points:
            for project, value in ballot.items():
                totals[project] = totals.get(project, 0) + value
        else:
            for project in set(ballot):
                totals[project] = totals.get(project, 0) + 1
    return totals


def run_instance(path: Path, ref: dict[str, str], backends: Iterable[str], tally_max: int) -> dict[str, Any]:
    """Time and check one file; the row lists its mismatches, errors and data notes."""
    parse, rule, sat_of, ilp = _pabutools()
    row: dict[str, Any] = {
        "file": path.name,
        "vote_type": ref["vote_type"],
        "n_projects": int(ref["n_projects"]),
        "voters": int(ref["num_votes"]),
        "mismatches": [],
        "errors": [],
        "data_notes": [],
    }
    problems: list[str] = row["mismatches"]
    (instance, profile), row["pabutools_parse_s"] = timed(lambda: parse(str(path)))
    points = ref["vote_type"] not in APPROVAL_LIKE
    counted = fast_totals(profile, points)
    theirs = {p.name: _exact(counted.get(p, 0)) for p in instance}
    row["pabutools_tally_s"] = None
    if row["voters"] * row["n_projects"] <= tally_max:
        sat_profile = profile.as_sat_profile(sat_class=sat_of[ref["vote_type"]])
        tallied, row["pabutools_tally_s"] = timed(
            lambda: {p: sat_profile.total_satisfaction_project(p) for p in instance}
        )
        if {p.name: _exact(v) for p, v in tallied.items()} != theirs:
            problems.append("pabutools' satisfaction totals differ from a direct count of its ballots")
    problem, row["allocate_load_s"] = timed(lambda: load_pabulib(path))
    mine = {a.id: _exact(repr(a.outcome_score)) for a in problem.applications}
    if mine != theirs:
        bad = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        row["data_notes"].append(
            f"allocate's tallies differ from pabutools' parse for {len(bad)} project(s): "
            + ", ".join(f"{k}: {mine.get(k)} vs {theirs.get(k)}" for k in bad[:4])
        )
    # Both sides optimise the same numbers: allocate's tallies, handed to pabutools' rule.
    totals: dict[Any, int | Fraction] = {p: _plain(mine[p.name]) for p in instance}
    given = Totals(totals)
    chosen, row["pabutools_s"] = timed(lambda: rule(instance, profile, sat_profile=given))
    chosen_ilp, row["pabutools_ilp_s"] = timed(
        lambda: rule(instance, profile, sat_profile=given, inner_algo=ilp)
    )
    welfare = {
        "pabutools": sum((totals[p] for p in chosen), Fraction(0)),
        "pabutools-ilp": sum((totals[p] for p in chosen_ilp), Fraction(0)),
    }
    for backend in backends:
        try:
            allocation, row[f"{backend}_s"] = _timed_solve(problem, backend)
        except AllocateError as exc:
            row["errors"].append(f"{backend} raised {type(exc).__name__}: {exc}")
            row[f"{backend}_s"] = None
            continue
        row[f"{backend}_solver_s"] = allocation.solver.seconds
        welfare[backend] = Fraction(pabulib_welfare(allocation, problem))
        if allocation.status != "optimal":
            problems.append(f"{backend} status {allocation.status}")
    if not points and ref.get("knapsack_opt_votes"):
        welfare["index.csv"] = _exact(ref["knapsack_opt_votes"])
    row["welfare"] = {k: float(v) if v.denominator != 1 else int(v) for k, v in welfare.items()}
    if len(set(welfare.values())) > 1:
        problems.append(f"welfare differs: {row['welfare']}")
    return row


def _timed_solve(problem: Problem, backend: str) -> tuple[Allocation, float]:
    return timed(lambda: solve(problem, backend))


def _summarise(rows: list[dict[str, Any]], label: str, backends: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "group": label,
        "n": len(rows),
        "mismatch": sum(1 for r in rows if r["mismatches"]),
    }
    for b in backends:
        out[f"{b}/pt"] = geomean(ratio(r[f"{b}_s"], r["pabutools_s"]) for r in rows)
        out[f"{b}_med_ms"] = median(1000 * r[f"{b}_s"] for r in rows if r[f"{b}_s"] is not None)
    out["ilp/pt"] = geomean(ratio(r["pabutools_ilp_s"], r["pabutools_s"]) for r in rows)
    out["pt_med_ms"] = median(1000 * r["pabutools_s"] for r in rows)
    first = backends[0]
    tallied = [r for r in rows if r["pabutools_tally_s"] is not None and r[f"{first}_s"] is not None]
    out["tallied"] = len(tallied)
    out["rule/pt_rule"] = geomean(
        ratio(r[f"{first}_s"], r["pabutools_tally_s"] + r["pabutools_s"]) for r in tallied
    )
    out["e2e"] = geomean(
        ratio(
            r["allocate_load_s"] + r[f"{first}_s"],
            r["pabutools_parse_s"] + r["pabutools_tally_s"] + r["pabutools_s"],
        )
        for r in tallied
    )
    return out


def run(ctx: RunContext) -> Section:
    """The pabulib section (every file in full mode, 16 spread over sizes in quick mode)."""
    backends = list(ctx.options.get("pabulib_backends", ["highs", "cpsat"]))
    section = Section(name="pabulib", title="Pabulib: allocate vs pabutools max utilitarian welfare")
    try:
        _pabutools()
    except ImportError:
        section.status = "skipped"
        section.notes.append("pabutools is not installed: pip install -e '.[bench]'")
        return section
    folder = ctx.data / "pabulib"
    with (folder / "index.csv").open(encoding="utf-8", newline="") as fh:
        index = list(csv.DictReader(fh))
    chosen = select(index, ctx.quick)
    limit = ctx.options.get("pabulib_limit")
    if limit:
        chosen = chosen[: int(limit)]
    tally_max = int(ctx.options.get("pabulib_tally_max") or TALLY_MAX)
    section.settings = {
        "instances": len(chosen),
        "of": len(index),
        "backends": backends,
        "threads": 1,
        "pabutools_tally_timed_if_voters_x_projects_le": tally_max,
    }
    for i, ref in enumerate(chosen, start=1):
        row = run_instance(folder / "pb_files" / ref["file"], ref, backends, tally_max)
        section.rows.append(row)
        section.mismatches += [f"{row['file']}: {m}" for m in row["mismatches"]]
        section.errors += [f"{row['file']}: {e}" for e in row["errors"]]
        section.data_notes += [f"{row['file']}: {d}" for d in row["data_notes"]]
        if ctx.verbose:
            print(
                f"  [{i}/{len(chosen)}] {row['file']} n={row['n_projects']} "
                + " ".join(f"{b}={1000 * (row[f'{b}_s'] or 0):.1f}ms" for b in backends)
                + f" pabutools={1000 * row['pabutools_s']:.1f}ms welfare={row['welfare']}",
                flush=True,
            )
    groups = [(label, [r for r in section.rows if lo <= r["n_projects"] <= hi]) for label, lo, hi in BUCKETS]
    section.summary = [_summarise(rows, label, backends) for label, rows in groups if rows]
    section.summary.append(_summarise(section.rows, "all", backends))
    section.columns = [
        Column("group", "projects"),
        Column("n", "files", "d"),
        Column("mismatch", "mismatch", "d"),
    ]
    for b in backends:
        section.columns.append(Column(f"{b}/pt", f"{b}/pabutools", ".2f"))
    section.columns.append(Column("ilp/pt", "pabutools-ilp/pabutools", ".2f"))
    section.columns.append(Column("tallied", "tallied", "d"))
    section.columns.append(Column("rule/pt_rule", f"{backends[0]}/(tally+pabutools)", ".3f"))
    section.columns.append(Column("e2e", "end-to-end", ".3f"))
    for b in backends:
        section.columns.append(Column(f"{b}_med_ms", f"{b} median ms", ".1f"))
    section.columns.append(Column("pt_med_ms", "pabutools median ms", ".2f"))
    section.notes += [
        "X/pabutools: geometric mean over files of (allocate solve() wall time with backend X) / "
        "(pabutools max_additive_utilitarian_welfare wall time, primal/dual algorithm, totals given). "
        "Below 1: allocate faster.",
        "pabutools-ilp/pabutools: the same rule with its ILP algorithm (CBC via PuLP).",
        f"{backends[0]}/(tally+pabutools): allocate solve vs the rule as a user calls it "
        "(sat_class given, so it first tallies the ballots); over the 'tallied' files only "
        f"(voters × projects <= {tally_max:,}).",
        "end-to-end: (load_pabulib + solve) / (parse_pabulib + tally + rule), file to answer, "
        "same files. load_pabulib reads the votes column of approval-like files and sums the "
        "ballots of cumulative ones.",
        "allocate's solve() includes compile, verification and the rule report; pabutools returns "
        "the bare set.",
    ]
    return section
