"""HiGHS and SCIP through OR-Tools' model builder (one vectorised model fill from CSR)."""

from __future__ import annotations

import time
from importlib.metadata import version

import numpy as np
from ortools.linear_solver.python import model_builder_helper as mbh

from allocate.backends.base import PinningSession, RawSolution, RawStatus, SolverOptions, proven, quiet_stdout
from allocate.compile import CompiledProblem
from allocate.errors import SolverError

# The presolve of the SCIP bundled with OR-Tools 9.15 declared wrong optima on 4-award rounds:
# 0 instead of 190 once a share row's side is a small margin (aggregating T's definition), and
# 160 instead of 190 on a two-year budget with aggregation off
# (tests/test_rules.py::test_equality_gap_ratio_population, ::test_budget_per_year). Off.
_PARAMS = {
    "scip": (
        "limits/gap = {gap}\nrandomization/randomseedshift = {seed}\nnumerics/feastol = 1e-9\n"
        "presolving/maxrounds = 0"
    ),
}

_VERSION = f"OR-Tools {version('ortools')}"  # read once: metadata lookups cost ~1 ms


class MipBackend:
    """A MIP solver shipped in OR-Tools: ``highs`` or ``scip``."""

    def __init__(self, solver: str) -> None:
        self.name = solver

    def prepare(self, model: CompiledProblem) -> MipSession:
        return MipSession(self.name, model)


class MipSession(PinningSession):
    """The model loaded once into OR-Tools' model builder; each solve sets a new objective."""

    def __init__(self, name: str, model: CompiledProblem) -> None:
        start = time.perf_counter()
        self.name = name
        self.n_vars = model.n_vars
        self.lb, self.ub = model.var_lb, model.var_ub
        self.helper = mbh.ModelBuilderHelper()
        self.helper.fill_model_from_sparse_data(
            model.var_lb,  # type: ignore[arg-type]
            model.var_ub,  # type: ignore[arg-type]
            np.zeros(model.n_vars),  # type: ignore[arg-type]
            model.row_lo,  # type: ignore[arg-type]
            model.row_hi,  # type: ignore[arg-type]
            model.A,
        )
        for i in np.flatnonzero(model.integer):
            self.helper.set_var_integrality(int(i), True)
        self.helper.set_maximize(True)
        self.build_seconds = time.perf_counter() - start

    def _set_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        for j, low, high in zip(cols, lo, hi, strict=True):
            self.helper.set_var_lower_bound(int(j), float(low))
            self.helper.set_var_upper_bound(int(j), float(high))

    def _solve(self, objective: np.ndarray, options: SolverOptions, hint: np.ndarray | None) -> RawSolution:
        start = time.perf_counter()
        self.helper.set_objective_coefficients(list(range(self.n_vars)), objective.tolist())
        self.helper.clear_hints()
        if hint is not None:
            for j, v in enumerate(hint):
                self.helper.add_hint(j, float(v))
        solver = mbh.ModelSolverHelper(self.name)
        if not solver.solver_is_supported():
            raise SolverError(f"backend {self.name!r}: OR-Tools was built without this solver")
        solver.set_solver_specific_parameters(
            _PARAMS[self.name].format(
                verbose=str(options.verbose).lower(),
                gap=options.relative_gap,
                threads=options.threads,
                seed=options.seed,
            )
        )
        if options.time_limit is not None:
            solver.set_time_limit_in_seconds(options.time_limit)
        solver.enable_output(options.verbose)
        with quiet_stdout(not options.verbose):
            solver.solve(self.helper)
        status = solver.status()
        has = solver.has_solution()
        x = np.asarray(solver.variable_values()) if has else None
        obj = float(solver.objective_value()) if has else None
        bound = float(solver.best_objective_bound()) if has else None
        if bound is not None and (not np.isfinite(bound) or abs(bound) >= 1e19):
            bound = None  # SCIP's stand-in for infinity: no bound known yet
        code: RawStatus
        if status == mbh.SolveStatus.INFEASIBLE:
            code = "infeasible"
        elif has and status in (mbh.SolveStatus.OPTIMAL, mbh.SolveStatus.FEASIBLE):
            code = "optimal" if proven(obj, bound, options) else "feasible"
        elif status in (mbh.SolveStatus.NOT_SOLVED, mbh.SolveStatus.FEASIBLE) and not has:
            code = "no_solution"
        else:
            raise SolverError(f"backend {self.name!r} failed: {status.name} {solver.status_string()}")
        return RawSolution(
            status=code,
            x=x,
            objective=obj,
            bound=bound,
            solver=self.name,
            version=_VERSION,
            seconds=time.perf_counter() - start,
            message=f"{status.name}",
        )
