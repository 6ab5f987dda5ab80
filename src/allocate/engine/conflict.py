"""Name the rules that clash when a problem is infeasible (deletion filtering).

First over rule groups (the budget, "one option per application", each rule), then,
when few rows remain, over the single rows of those groups. Each step re-solves a
feasibility problem (zero objective) with the same backend. The result is irreducible:
dropping any one named group (or row) makes the rest feasible, unless the time limit (which
bounds the whole search) left a question unanswered: then `Conflict.irreducible` is False.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from allocate.engine.backends.base import Backend, solve_once
from allocate.engine.compile import BUDGET_RULE, ROW_FIELDS, VARIANTS_RULE, CompiledProblem
from allocate.engine.options import SolverOptions

MAX_ROWS_FOR_ROW_FILTER = 60


def restrict(model: CompiledProblem, keep: np.ndarray) -> CompiledProblem:
    """The same model with only the rows where `keep` is True (every per-row array in step)."""
    rows: dict[str, Any] = {}
    for name in ROW_FIELDS:
        values = getattr(model, name)
        rows[name] = (
            tuple(v for v, k in zip(values, keep, strict=True) if k)
            if isinstance(values, tuple)
            else values[keep]
        )
    return dataclasses.replace(model, A=model.A[keep], **rows)


class _Budget:
    """The time left for a diagnosis: options.time_limit bounds the whole search, from `started`."""

    def __init__(self, options: SolverOptions, started: float) -> None:
        self.options = options
        self.started = started
        self.undecided = False
        """Set when a question went unanswered (time ran out): the result may not be irreducible."""

    def feasible(self, model: CompiledProblem, keep: np.ndarray, backend: Backend) -> bool:
        """Whether the rows in `keep` can all hold; True (keep the row) when undecided."""
        options = self.options.left_since(self.started)
        if options is None:
            self.undecided = True
            return True
        raw = solve_once(backend, restrict(model, keep), np.zeros(model.n_vars), options)
        if raw.status == "no_solution":
            self.undecided = True
        return raw.status != "infeasible"


@dataclass(frozen=True)
class Conflict:
    """Clashing rule groups and rows.

    `irreducible` is False when the time limit cut the search short, or when too many rows
    remained to filter one by one (the groups are then irreducible, the rows are not).
    """

    groups: list[str]
    rows: list[str]
    irreducible: bool
    row_indices: tuple[int, ...] = ()
    """The rows named in `rows`, by position in the model (labels need not be unique)."""


def group_name(model: CompiledProblem, group: int) -> str:
    if group == BUDGET_RULE:
        return "Budget"
    if group == VARIANTS_RULE:
        return "Variants (at most one option per application)"
    return model.problem.rules[group].label


def find_conflict(
    model: CompiledProblem,
    backend: Backend,
    options: SolverOptions,
    started: float | None = None,
    suspects: np.ndarray | None = None,
) -> Conflict:
    """An irreducible set of clashing rule groups and rows (within options.time_limit from `started`).

    `suspects`: rows already known to clash (`confirm`), e.g. the LP relaxation's IIS. The
    filters then start from them and their groups, not from every rule of the round: a handful
    of solves instead of one per rule and row. A filter that starts from any clashing set ends
    irreducible all the same.
    """
    budget = _Budget(options, time.perf_counter() if started is None else started)
    structural = model.row_structural
    groups = [int(g) for g in np.unique(model.row_rule[~structural])]  # T's definition is no group
    if suspects is not None:
        groups = [g for g in groups if g in set(model.row_rule[suspects].tolist())]
    active = set(groups)
    for g in groups:
        trial = active - {g}
        if not budget.feasible(model, structural | np.isin(model.row_rule, list(trial)), backend):
            active = trial
    rows_mask = np.isin(model.row_rule, list(active)) & ~structural
    if suspects is not None:
        start = np.zeros_like(rows_mask)
        start[suspects] = True
        if not budget.feasible(model, structural | (start & rows_mask), backend):
            rows_mask &= start
    rows = [int(i) for i in np.flatnonzero(rows_mask)]
    filtered = len(rows) <= MAX_ROWS_FOR_ROW_FILTER
    if filtered:
        keep = set(rows)
        for r in rows:
            trial = keep - {r}
            mask = structural.copy()
            mask[list(trial)] = True
            if not budget.feasible(model, mask, backend):
                keep = trial
        rows = sorted(keep)
    return Conflict(
        [group_name(model, g) for g in sorted(active)],
        [model.row_labels[r] for r in rows],
        filtered and not budget.undecided,
        tuple(rows),
    )


def confirm(model: CompiledProblem, backend: Backend, options: SolverOptions, rows: np.ndarray) -> bool:
    """Whether `backend` finds that `rows` (with the structural rows) cannot all hold."""
    keep = model.row_structural.copy()
    keep[rows] = True
    return solve_once(backend, restrict(model, keep), np.zeros(model.n_vars), options).status == "infeasible"
