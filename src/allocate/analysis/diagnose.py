"""Infeasibility diagnosis a commissioner can act on.

`diagnose(problem)` finds an irreducible set of clashing rules (deletion filter, see
`allocate.engine.conflict`) and then the least relaxation of those rows that restores feasibility:
elastic variables on each clashing row, minimising the total relaxation (in pounds for money
rows, in awards or organisations for count rows; each row's unit is the one it was compiled
with) with every other rule kept. It also gives, for each clashing
row on its own, the least relaxation of that row alone, so the commissioner can choose.
"""

from __future__ import annotations

import dataclasses
import math
import time
from concurrent.futures import as_completed
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from allocate.analysis.workers import Progress, executor_for
from allocate.domain.model import Problem
from allocate.domain.money import pounds
from allocate.engine.backends import DEFAULT_BACKEND, get_backend
from allocate.engine.backends.base import solve_once
from allocate.engine.backends.lp import lp_conflict
from allocate.engine.compile import CompiledProblem, compile_problem
from allocate.engine.conflict import confirm, find_conflict
from allocate.engine.options import SolverOptions

_MONEY = ("pence", "share")
"""Row units measured in pence (a share row compares attributed money with a share of the total)."""


@dataclass(frozen=True)
class Relaxation:
    """Move one row's limit by `amount` (pence for money rows, awards/organisations otherwise)."""

    label: str
    sense: str
    limit: float
    relaxed_limit: float
    amount: float
    unit: str
    share: bool = False
    """The row compares attributed money with a share of the total awarded (its unit: "share")."""

    def text(self) -> str:
        if self.share:
            return f"let {self.label} miss by {pounds(self.amount)} of attributed money"
        fmt = pounds if self.unit == "pence" else (lambda v: f"{v:g}")
        verb = "lower" if self.sense == ">=" else "raise"
        return (
            f"{verb} {self.label} from {fmt(self.limit)} to {fmt(self.relaxed_limit)} (by {fmt(self.amount)})"
        )


@dataclass(frozen=True)
class Diagnosis:
    """Whether the rules can all hold, and if not which clash and how to fix it."""

    feasible: bool
    rules: tuple[str, ...]
    rows: tuple[str, ...]
    relaxation: tuple[Relaxation, ...]
    """The least combined relaxation of the clashing rows."""
    alternatives: tuple[Relaxation, ...]
    """For each clashing row that can fix the clash on its own: the least change to it alone."""
    irreducible: bool = True
    """False when the time limit (or the number of rows) stopped the clash being reduced to a minimum."""
    least: bool = True
    """False when time ran out before a relaxation was proven the least: each fix given works (an
    allocation meets the round with it), but a smaller one may exist."""

    def text(self) -> str:
        if self.feasible:
            return "The rules can all be met."
        lines = [f"These rules cannot all hold: {'; '.join(self.rules)}."]
        lines.append("Clashing rows: " + ", ".join(self.rows) + ".")
        if not self.irreducible:
            lines.append("(Not reduced to the smallest clashing set: some of these may not be needed.)")
        if self.relaxation:
            lines.append("Smallest combined fix: " + "; ".join(r.text() for r in self.relaxation) + ".")
        if self.alternatives:
            lines.append("Or, one rule at a time: " + " or ".join(r.text() for r in self.alternatives) + ".")
        if not self.least and (self.relaxation or self.alternatives):
            lines.append(
                "(Each fix works, but time ran out before it was proven the least: a smaller one may exist.)"
            )
        return "\n".join(lines)


def _elastic(
    model: CompiledProblem, rows: list[int], backend: str, options: SolverOptions
) -> tuple[list[Relaxation] | None, bool]:
    """Least weighted relaxation of `rows` (others hard), None if even that is infeasible; and
    whether it was proven the least (a task)."""
    cols, lo_side = [], []
    for r in rows:
        if math.isfinite(model.row_lo[r]):
            cols.append(r)
            lo_side.append(True)
        if math.isfinite(model.row_hi[r]):
            cols.append(r)
            lo_side.append(False)
    k = len(cols)
    E = sp.csr_matrix((np.where(lo_side, 1.0, -1.0), (cols, np.arange(k))), shape=(model.A.shape[0], k))
    # Finite bounds: no relaxation needs more than the row's whole range of activity.
    reach = np.asarray(abs(model.A).multiply(model.var_ub[None, :]).sum(axis=1)).ravel()
    bound = np.array(
        [
            reach[r] + abs(model.row_lo[r] if low else model.row_hi[r]) + 1.0
            for r, low in zip(cols, lo_side, strict=True)
        ]
    )
    # A pound of money weighs as much as one award or organisation.
    weight = np.where(np.isin(model.row_unit[cols], _MONEY), 1.0 / 100, 1.0)
    elastic = dataclasses.replace(
        model,
        A=sp.hstack([model.A, E]).tocsr(),
        var_lb=np.concatenate([model.var_lb, np.zeros(k)]),
        var_ub=np.concatenate([model.var_ub, bound]),
        integer=np.concatenate([model.integer, np.zeros(k, dtype=bool)]),
        var_labels=(*model.var_labels, *(f"relax[{model.row_labels[r]}]" for r in cols)),
    )
    objective = np.concatenate([np.zeros(model.n_vars), -weight])
    raw = solve_once(get_backend(backend), elastic, objective, options)
    if raw.x is None:
        return None, raw.status == "infeasible"
    activity = model.A @ _relaxed_allocation(model, raw.x)
    out = []
    for j, (r, low) in enumerate(zip(cols, lo_side, strict=True)):
        if raw.x[model.n_vars + j] <= 1e-6:
            continue
        # Measured from the stated bound (not the solver's widened one), in whole pence / awards,
        # by the relaxed allocation itself: a backend may round the elastic variable up (CP-SAT
        # solves continuous variables on an integer grid).
        limit = float(model.stated_lo[r] if low else model.stated_hi[r])
        amount = math.ceil((limit - activity[r] if low else activity[r] - limit) - 1e-9)
        if amount < 1:
            continue
        unit = str(model.row_unit[r])
        out.append(
            Relaxation(
                model.row_labels[r],
                ">=" if low else "<=",
                limit,
                limit - amount if low else limit + amount,
                amount,
                "pence" if unit == "share" else unit,
                share=unit == "share",
            )
        )
    return out, raw.status == "optimal"


def _relaxed_allocation(model: CompiledProblem, x: np.ndarray) -> np.ndarray:
    """The model's variables in an elastic solution: whole awards, and T recomputed from them."""
    values = np.array(x[: model.n_vars], dtype=np.float64)
    values[model.integer] = np.round(values[model.integer])
    if model.total_col is not None:
        values[model.total_col] = float(model.cost @ values[: model.n])
    return values


RELAXATION_SECONDS = 5.0
"""With no time limit given, each search for a least relaxation stops after this long (the fix it
has then found works; `Diagnosis.least` says whether it was proven the least). Proving the
least fix can take CP-SAT many minutes on a real round (East Sussex: HiGHS 5 s a search)."""


def diagnose(
    problem: Problem,
    backend: str = DEFAULT_BACKEND,
    *,
    options: SolverOptions | None = None,
    progress: Progress | None = None,
) -> Diagnosis:
    """Explain why no allocation meets every rule, and the least change that would fix it.

    The least relaxations (all clashing rows together, then each alone) are independent
    searches, run on a pool of threads. ``progress(done, total)`` is called as they finish.
    """
    opts = SolverOptions() if options is None else options
    started = time.perf_counter()
    model = compile_problem(problem)
    engine = get_backend(backend)
    # Rows whose LP relaxation clashes clash in the round too: confirmed by the backend on those
    # rows alone (a small model, quick to prove), they start the search and spare the proof on
    # the whole round, which CP-SAT may take minutes to give.
    suspects = lp_conflict(model)
    if suspects is not None and not confirm(model, engine, opts, suspects):
        suspects = None
    if suspects is None and solve_once(engine, model, np.zeros(model.n_vars), opts).status != "infeasible":
        return Diagnosis(True, (), (), (), ())
    found = find_conflict(model, engine, opts, started, suspects=suspects)
    groups, labels = found.groups, found.rows
    rows = [r for r in found.row_indices if not model.row_structural[r]]
    searches = [rows] + [[r] for r in rows] if len(rows) > 1 else [rows]
    if progress is not None:
        progress(1, 1 + len(searches))
    left = opts.left_since(started) or opts.model_copy(update={"time_limit": 0.01})
    if opts.time_limit is None:
        left = left.model_copy(update={"time_limit": RELAXATION_SECONDS})
    answers: list[tuple[list[Relaxation] | None, bool]] = [(None, True)] * len(searches)
    with executor_for(None, len(searches), model.n, "diagnose") as pool:
        futures = {pool.submit(_elastic, model, r, backend, left): k for k, r in enumerate(searches)}
        for done, fut in enumerate(as_completed(futures), start=2):
            answers[futures[fut]] = fut.result()
            if progress is not None:
                progress(done, 1 + len(searches))
    combined = answers[0][0] or []
    alone = combined if len(searches) == 1 else [x for a, _ in answers[1:] if a for x in a]
    return Diagnosis(
        False,
        tuple(groups),
        tuple(labels),
        tuple(combined),
        tuple(alone),
        found.irreducible,
        all(proven for _, proven in answers),
    )
