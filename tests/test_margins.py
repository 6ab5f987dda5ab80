"""The rows a broken answer adds (backends.base.MarginCheck.cuts) exclude only allocations that break a row."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from allocate import (
    Application,
    Budget,
    ClientGroup,
    District,
    EqualityGap,
    Problem,
    SolverError,
    compile_problem,
    solve,
)
from allocate.engine.backends.base import MarginCheck
from allocate.engine.compile import CompiledProblem


def round_with_shares() -> Problem:
    """Six bids over two districts under an equality gap: share rows hold awards and the total T."""
    apps = tuple(
        Application(
            id=f"A{i}",
            organisation=f"O{i}",
            client_groups=("g",),
            districts=districts,
            cost=cost,
            outcome_score=50 + i,
        )
        for i, (districts, cost) in enumerate(
            [(("H",), 300), (("R",), 500), ((), 700), (("H",), 250), (("R",), 120), (("H", "R"), 410)]
        )
    )
    return Problem(
        applications=apps,
        districts=(District(id="H", population=60, need=0.4), District(id="R", population=40, need=0.6)),
        client_groups=(ClientGroup(id="g"),),
        budget=Budget(total=3_000),
        rules=(EqualityGap(over="district", tolerance=0.1),),
    )


def full(model: CompiledProblem, chosen: tuple[int, ...]) -> np.ndarray:
    x = np.zeros(model.n_vars)
    x[list(chosen)] = 1.0
    if model.total_col is not None:
        x[model.total_col] = model.cost @ x[: model.n]
    return x


def test_every_allocation_a_cut_excludes_breaks_a_row() -> None:
    model = compile_problem(round_with_shares())
    check = MarginCheck(model)
    sets = [s for k in range(model.n + 1) for s in itertools.combinations(range(model.n), k)]
    broken = [s for s in sets if check.broken(full(model, s))]
    assert broken and len(broken) < len(sets)  # the rule bites, and some allocations meet it
    family_sizes = []
    for s in broken:
        cuts = check.cuts(full(model, s))
        assert cuts
        excluded = [t for t in sets if any(not set(up) & set(t) and set(down) <= set(t) for up, down in cuts)]
        assert s in excluded
        assert all(check.broken(full(model, t)) for t in excluded), s
        family_sizes.append(len(excluded))
    assert max(family_sizes) > 1  # stronger than excluding the one answer


def test_an_answer_that_meets_every_row_gets_no_cut() -> None:
    model = compile_problem(round_with_shares())
    check = MarginCheck(model)
    sets = [s for k in range(model.n + 1) for s in itertools.combinations(range(model.n), k)]
    meeting = [s for s in sets if not check.broken(full(model, s))]
    assert len(meeting) > 1
    assert all(check.cuts(full(model, s)) == [] for s in meeting)


@pytest.mark.slow
def test_cpsat_gives_up_clearly_on_ties_it_cannot_resolve_at_10bn() -> None:
    """A known limit (docs/engine.md, "Trust"): a clear SolverError, never a wrong claim."""
    saved = json.loads(
        (Path(__file__).parent / "data" / "known" / "cpsat_share_rows_past_margin_at_10bn.json").read_text()
    )
    problem = Problem.from_dict(saved["problem"])
    with pytest.raises(SolverError, match="broke a row beyond its margin"):
        solve(problem, "cpsat", diagnose=False, time_limit=120)
