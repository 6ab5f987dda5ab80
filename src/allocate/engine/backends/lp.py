"""The LP relaxation of a compiled problem, for its duals (shadow prices): OR-Tools' GLOP.

Not HiGHS through OR-Tools' model builder: that crashes the process (segfault) in ortools 9.15
with highspy loaded. OR-Tools is imported on first use, like every solver library.
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
