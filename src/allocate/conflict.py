"""Name the rules that clash when a problem is infeasible (deletion filtering).

First over rule groups (the budget, "one option per application", each rule), then,
when few rows remain, over the single rows of those groups. Each step re-solves a
feasibility problem (zero objective) with the same backend. The result is irreducible:
dropping any one named group (or row) makes the rest feasible.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from allocate.backends.base import Backend, SolverOptions, solve_once
from allocate.compile import BUDGET_RULE, TOTAL_RULE, VARIANTS_RULE, CompiledProblem

MAX_ROWS_FOR_ROW_FILTER = 60


def restrict(model: CompiledProblem, keep: np.ndarray) -> CompiledProblem:
    """The same model with only the rows where `keep` is True."""
    return dataclasses.replace(
        model,
        A=model.A[keep],
        row_lo=model.row_lo[keep],
        row_hi=model.row_hi[keep],
        row_labels=tuple(lbl for lbl, k in zip(model.row_labels, keep, strict=True) if k),
        row_rule=model.row_rule[keep],
        row_margin=model.row_margin[keep],
    )


def _feasible(model: CompiledProblem, keep: np.ndarray, backend: Backend, options: SolverOptions) -> bool:
    raw = solve_once(backend, restrict(model, keep), np.zeros(model.n_vars), options)
    return raw.status != "infeasible"


def group_name(model: CompiledProblem, group: int) -> str:
    if group == BUDGET_RULE:
        return "Budget"
    if group == VARIANTS_RULE:
        return "Variants (at most one option per application)"
    return model.problem.rules[group].label


def structural_rows(model: CompiledProblem) -> np.ndarray:
    """Rows that only define auxiliary variables (T, "organisation funded"): never a clash alone."""
    links = np.array([label.startswith("MinOrganisations.link[") for label in model.row_labels], dtype=bool)
    return np.asarray((model.row_rule == TOTAL_RULE) | links)


def find_conflict(
    model: CompiledProblem, backend: Backend, options: SolverOptions
) -> tuple[list[str], list[str]]:
    """(names of an irreducible set of clashing rule groups, labels of clashing rows)."""
    structural = structural_rows(model)
    groups = [g for g in np.unique(model.row_rule) if g != TOTAL_RULE]
    active = set(groups)
    for g in groups:
        trial = active - {g}
        if not _feasible(model, structural | np.isin(model.row_rule, list(trial)), backend, options):
            active = trial
    rows_mask = np.isin(model.row_rule, list(active)) & ~structural
    rows = [int(i) for i in np.flatnonzero(rows_mask)]
    if len(rows) <= MAX_ROWS_FOR_ROW_FILTER:
        keep = set(rows)
        for r in rows:
            trial = keep - {r}
            mask = structural.copy()
            mask[list(trial)] = True
            if not _feasible(model, mask, backend, options):
                keep = trial
        rows = sorted(keep)
    return [group_name(model, g) for g in sorted(active)], [model.row_labels[r] for r in rows]
