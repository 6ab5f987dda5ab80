"""The LP relaxation of a compiled problem: its duals (shadow prices, OR-Tools' GLOP) and, when it
is infeasible, an irreducible infeasible subsystem of its rows (HiGHS's IIS).

Not HiGHS through OR-Tools' model builder: that crashes the process (segfault) in ortools 9.15
with highspy loaded. Solver libraries are imported on first use.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from allocate.domain.errors import SolverError
from allocate.engine.backends.base import quiet_stdout
from allocate.engine.compile import CompiledProblem


def lp_duals(model: CompiledProblem, objective: np.ndarray) -> np.ndarray | None:
    """One dual value per row of the LP relaxation maximising `objective`; None without a solution."""
    if importlib.util.find_spec("ortools") is None:
        raise SolverError(
            "shadow prices need the Python package 'ortools', which is not installed (pip install ortools)"
        )
    from ortools.linear_solver.python import model_builder_helper as mbh

    helper = mbh.ModelBuilderHelper()
    helper.fill_model_from_sparse_data(
        model.var_lb,  # type: ignore[arg-type]
        model.var_ub,  # type: ignore[arg-type]
        objective,  # type: ignore[arg-type]
        model.row_lo,  # type: ignore[arg-type]
        model.row_hi,  # type: ignore[arg-type]
        model.A,
    )
    helper.set_maximize(True)
    solver = mbh.ModelSolverHelper("glop")
    with quiet_stdout():
        solver.solve(helper)
    if not solver.has_solution():
        return None
    return np.asarray(solver.dual_values())


def lp_conflict(model: CompiledProblem) -> np.ndarray | None:
    """Rows of an irreducible infeasible subsystem of the LP relaxation; None if it is feasible.

    An LP that no fractional allocation satisfies has no whole one either, so these rows clash
    in the round too. Floating point's word only: the caller confirms the clash with its own
    backend before naming it. None also when highspy is missing or finds no IIS.
    """
    if importlib.util.find_spec("highspy") is None:
        return None
    import highspy

    with quiet_stdout():  # the banner of the process's first Highs
        h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("iis_strategy", int(highspy.IisStrategy.kIisStrategyIrreducible))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = model.n_vars, model.A.shape[0]
    lp.col_cost_ = np.zeros(model.n_vars)
    lp.col_lower_, lp.col_upper_ = model.var_lb, model.var_ub
    lp.row_lower_, lp.row_upper_ = model.row_lo, model.row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = model.n_vars, model.A.shape[0]
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = (
        model.A.indptr,
        model.A.indices,
        model.A.data,
    )
    if h.passModel(lp) == highspy.HighsStatus.kError:
        return None
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kInfeasible:
        return None
    status, iis = h.getIis()
    rows = np.asarray(list(iis.row_index_), dtype=np.int64)
    if status == highspy.HighsStatus.kError or not iis.valid_ or not len(rows):
        return None
    return rows
