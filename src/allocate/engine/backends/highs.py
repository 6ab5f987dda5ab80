"""HiGHS through its own Python bindings (highspy).

OR-Tools' HiGHS wrapper discards the incumbent when a time limit stops the search, so HiGHS
is driven directly: the model is passed once as row-wise CSR arrays, the objective is
replaced for each what-if solve, and the status, incumbent, bound and gap are HiGHS's own.
"""

from __future__ import annotations

import threading
import time
from importlib.metadata import version
from typing import Any

import highspy
import numpy as np

from allocate.domain.errors import SolverError
from allocate.engine.backends.base import (
    FLOAT_TRUSTED_PENCE,
    PinningSession,
    RawSolution,
    RawStatus,
    SolverOptions,
    check_range,
    proven,
    quiet_stdout,
)
from allocate.engine.backends.stop import in_side_thread, running
from allocate.engine.compile import CompiledProblem

_FEASIBLE = 2  # HiGHS's SolutionStatus kSolutionStatusFeasible


def _agrees(objective: np.ndarray, x: np.ndarray, reported: float) -> bool:
    """Whether HiGHS's reported objective is the value of the allocation it returned."""
    value = float(objective @ x)
    return abs(value - reported) <= 1e-9 * max(1.0, abs(value), abs(reported)) + 1e-6


_VERSION = f"HiGHS {version('highspy')}"  # read once: metadata lookups cost ~1 ms


_banner = threading.Lock()
_banner_shown = False


def _new_highs() -> highspy.Highs:
    """A Highs instance. HiGHS prints its banner when the first one in a process is made, before
    any option can turn output off: that one construction is silenced, under a lock."""
    global _banner_shown
    with _banner:
        if not _banner_shown:
            with quiet_stdout():
                h = highspy.Highs()  # type: ignore[no-untyped-call]
            _banner_shown = True
            return h
    return highspy.Highs()  # type: ignore[no-untyped-call]


class HighsBackend:
    """HiGHS's branch-and-cut MIP solver (the choice for very large rounds and time-limited runs)."""

    name = "highs"

    max_pence = FLOAT_TRUSTED_PENCE

    def prepare(self, model: CompiledProblem) -> HighsSession:
        check_range(self, model)
        return HighsSession(model)


class HighsSession(PinningSession):
    """The model loaded once into a Highs instance; each solve sets a new objective."""

    name = "highs"

    def __init__(self, model: CompiledProblem) -> None:
        start = time.perf_counter()
        self.h = _new_highs()
        self.h.setOptionValue("output_flag", False)
        self.h.HandleUserInterrupt = True  # so that cancelSolve stops a run (allocate.engine.backends.stop)
        lp = highspy.HighsLp()
        lp.num_col_ = model.n_vars
        lp.num_row_ = model.A.shape[0]
        lp.col_cost_ = np.zeros(model.n_vars)
        lp.col_lower_ = model.var_lb
        lp.col_upper_ = model.var_ub
        lp.row_lower_ = model.row_lo
        lp.row_upper_ = model.row_hi
        lp.sense_ = highspy.ObjSense.kMaximize
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.num_col_ = model.n_vars
        lp.a_matrix_.num_row_ = model.A.shape[0]
        lp.a_matrix_.start_ = model.A.indptr
        lp.a_matrix_.index_ = model.A.indices
        lp.a_matrix_.value_ = model.A.data
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in model.integer
        ]
        # A warning means HiGHS dropped coefficients of at most 1e-9 (money attributed to a district
        # of tiny population share): far below the rows' 1e-3 p margin, so the model is unchanged.
        if self.h.passModel(lp) == highspy.HighsStatus.kError:
            raise SolverError("backend 'highs' rejected the compiled model")
        self.n = model.n_vars
        self.model = model
        self.version = _VERSION
        self.lb, self.ub = model.var_lb, model.var_ub
        self.build_seconds = time.perf_counter() - start

    def _exclude(self, up: np.ndarray, down: np.ndarray) -> None:
        # sum(up) + sum(1 - down) >= 1, i.e. sum(up) - sum(down) >= 1 - |down|
        awards = np.concatenate([up, down]).astype(np.int32)
        values = np.concatenate([np.ones(len(up)), -np.ones(len(down))])
        self.h.addRow(1.0 - len(down), np.inf, len(awards), awards, values)

    def _set_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        self.h.changeColsBounds(len(cols), cols.astype(np.int32), lo, hi)

    def _run(self, hint: np.ndarray | None) -> tuple[Any, Any, np.ndarray | None]:
        """Run HiGHS from `hint` (if any): its model status, its info, and its allocation if it has one."""
        h = self.h
        h.clearSolver()
        if hint is not None:
            sol = highspy.HighsSolution()
            sol.col_value = list(np.asarray(hint, dtype=np.float64))
            sol.value_valid = True
            h.setSolution(sol)
        # highspy's cancelSolve sets a flag that only its own startSolve clears.
        h._Highs__solver_should_stop = False  # type: ignore[attr-defined]
        with running(h.cancelSolve):
            in_side_thread(h.run)  # silent: output_flag is off unless verbose
        info = h.getInfo()
        has = info.primal_solution_status == _FEASIBLE
        return h.getModelStatus(), info, np.asarray(h.getSolution().col_value) if has else None

    def _solve(self, objective: np.ndarray, options: SolverOptions, hint: np.ndarray | None) -> RawSolution:
        start = time.perf_counter()
        h = self.h
        h.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), np.asarray(objective, dtype=np.float64))
        h.setOptionValue("mip_rel_gap", float(options.relative_gap))
        h.setOptionValue("random_seed", int(options.seed))
        h.setOptionValue(
            "time_limit", float(options.time_limit) if options.time_limit is not None else float("inf")
        )
        # HiGHS's default integrality tolerance (1e-6) can count x = 1 - 1e-7 as an award, a penny
        # on a £1m award (tests/data/regressions/highs_integrality_above_optimum.json): such answers
        # are excluded and solved again (PinningSession), so the default stays. Tighter settings
        # make HiGHS wrong elsewhere: 1e-7 and 1e-8 let presolve call feasible rounds infeasible
        # (highs_presolve_infeasible_*.json), 1e-9 trips HiGHS's own final check.
        h.setOptionValue("mip_feasibility_tolerance", 1e-6)
        # HiGHS's presolve aggregator (rule bit 12), substituting T's defining equation into the
        # share rows, declared a round infeasible whose empty allocation meets every row
        # (tests/data/regressions/highs_aggregator_infeasible.json). SCIP failed the same way.
        h.setOptionValue("presolve_rule_off", 1 << 12)
        h.setOptionValue("output_flag", bool(options.verbose))
        status, info, x = self._run(hint)
        stale: tuple[np.ndarray, float] | None = None
        if x is not None and hint is not None and not _agrees(objective, x, info.objective_function_value):
            # HiGHS 1.16 hands back the starting solution as its answer when presolve solves a MIP
            # it was given one for (the objective it reports is the true optimum's): solve again
            # without it, in the time left (tests/data/regressions/highs_returns_the_start.json).
            stale = (x, float(info.mip_dual_bound))
            rest = options.left_since(start)
            if rest is not None:
                h.setOptionValue("time_limit", float("inf") if rest.time_limit is None else rest.time_limit)
                status, info, x = self._run(None)
            else:
                x = None
        has = x is not None
        obj = float(objective @ x) if x is not None else None
        bound = float(info.mip_dual_bound) if has else None
        if status == highspy.HighsModelStatus.kOptimal and bound is not None and obj is not None:
            bound = max(bound, obj) if not np.isfinite(bound) or bound < obj else bound
        code: RawStatus
        if stale is not None and not has:  # out of time again: the start, no better than "feasible"
            x, bound = stale
            obj = float(objective @ x)
            code = "feasible"
        elif status == highspy.HighsModelStatus.kInfeasible:
            code = "infeasible"
        elif has:
            code = (
                "optimal"
                if status == highspy.HighsModelStatus.kOptimal or proven(obj, bound, options)
                else "feasible"
            )
        elif status in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt):
            code = "no_solution"
        else:
            raise SolverError(f"backend 'highs' failed: {h.modelStatusToString(status)}")
        return self._answer(code, x, obj, bound, start, h.modelStatusToString(status))
