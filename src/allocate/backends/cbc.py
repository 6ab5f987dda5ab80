"""COIN-OR CBC through PuLP.

PuLP can label a CBC run that stopped on its time limit "Optimal" (PuLP issues #711,
#649), so the status, objective and bound are read from CBC's own log, never from
PuLP's label alone.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import time

import numpy as np
import pulp

from allocate.backends.base import PinningSession, RawSolution, RawStatus, SolverOptions, proven
from allocate.compile import CompiledProblem
from allocate.errors import SolverError

_NUMBER = r"(-?[0-9.eE+-]+|inf|-inf)"


def _field(log: str, name: str) -> float | None:
    m = re.search(rf"^{name}:\s+{_NUMBER}", log, re.MULTILINE)
    return float(m.group(1)) if m else None


def read_cbc_log(log: str) -> tuple[str, float | None, float | None]:
    """(CBC's result line, objective, bound) from a CBC log (bound None if not printed)."""
    # A MIP prints "Result - ..."; a problem settled without branching (no rows, or
    # infeasible at the LP) prints only the LP's verdict.
    m = (
        re.search(r"^Result - (.+)$", log, re.MULTILINE)
        or re.search(r"^(Problem is infeasible)", log, re.MULTILINE)
        or re.search(r"^(Optimal) - objective value", log, re.MULTILINE)
    )
    result = m.group(1).strip() if m else ""
    objective = _field(log, "Objective value")
    bound = _field(log, "Upper bound")
    if bound is None:
        bound = _field(log, "Lower bound")
    return result, objective, bound


class CbcBackend:
    """CBC, the solver most analysts reach through PuLP."""

    name = "cbc"

    def prepare(self, model: CompiledProblem) -> CbcSession:
        return CbcSession(model)


class CbcSession(PinningSession):
    """The PuLP model built once; each solve sets a new objective (PuLP re-sends it to CBC)."""

    def __init__(self, model: CompiledProblem) -> None:
        start = time.perf_counter()
        prob = pulp.LpProblem("allocate", pulp.LpMaximize)
        xs = [
            pulp.LpVariable(
                f"v{j}",
                lowBound=float(lb),
                upBound=float(ub),
                cat=pulp.LpInteger if integer else pulp.LpContinuous,
            )
            for j, (lb, ub, integer) in enumerate(zip(model.var_lb, model.var_ub, model.integer, strict=True))
        ]
        A = model.A
        for i in range(A.shape[0]):
            sl = slice(A.indptr[i], A.indptr[i + 1])
            expr = pulp.LpAffineExpression(
                [(xs[j], float(c)) for j, c in zip(A.indices[sl], A.data[sl], strict=True)]
            )
            lo, hi = float(model.row_lo[i]), float(model.row_hi[i])
            if lo == hi:
                prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintEQ, rhs=lo), f"r{i}")
                continue
            if math.isfinite(lo):
                prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintGE, rhs=lo), f"r{i}_lo")
            if math.isfinite(hi):
                prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintLE, rhs=hi), f"r{i}_hi")
        self.prob, self.xs = prob, xs
        self.lb, self.ub = model.var_lb, model.var_ub
        self.build_seconds = time.perf_counter() - start

    def _set_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        for j, low, high in zip(cols, lo, hi, strict=True):
            self.xs[j].lowBound, self.xs[j].upBound = float(low), float(high)

    def _solve(self, objective: np.ndarray, options: SolverOptions, hint: np.ndarray | None) -> RawSolution:
        start = time.perf_counter()
        prob, xs = self.prob, self.xs
        nz = np.flatnonzero(objective)
        prob.setObjective(pulp.LpAffineExpression([(xs[j], float(objective[j])) for j in nz]))
        for var in xs:
            var.varValue = None
        if hint is not None:
            for var, v in zip(xs, hint, strict=True):
                var.setInitialValue(float(v))
        fd, log_path = tempfile.mkstemp(suffix=".log", prefix="allocate-cbc-")
        os.close(fd)
        try:
            solver = pulp.PULP_CBC_CMD(
                msg=options.verbose,
                timeLimit=options.time_limit,
                gapRel=options.relative_gap,
                threads=options.threads,
                warmStart=hint is not None,
                logPath=log_path,
                options=[
                    f"randomCbcSeed {options.seed + 1}",
                    "integerTolerance 1e-9",
                    # CBC 2.10's integer preprocessing returned a sub-optimal allocation labelled
                    # optimal on the East Sussex reference (HiGHS, SCIP and CP-SAT agreed on better).
                    "preprocess off",
                ],
            )
            try:
                prob.solve(solver)
            except pulp.PulpSolverError as exc:
                raise SolverError(f"backend 'cbc' failed: {exc}") from exc
            with open(log_path, encoding="utf-8", errors="replace") as fh:
                log = fh.read()
        finally:
            os.unlink(log_path)
        result, obj_log, bound = read_cbc_log(log)
        values = [v.varValue for v in xs]
        has = (
            prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible) and None not in values
        )
        x = np.array(values, dtype=np.float64) if has else None
        obj = float(objective @ np.round(x)) if x is not None else None
        code: RawStatus
        if result.startswith("Optimal solution found") or result == "Optimal":
            code = "optimal"
            bound = obj if bound is None else bound
        elif "infeasible" in result.lower():
            code = "infeasible"
        elif has:
            code = "optimal" if proven(obj, bound, options) else "feasible"
        elif result.startswith("Stopped"):
            code = "no_solution"
        else:
            raise SolverError(
                f"backend 'cbc' failed: CBC said {result or 'nothing'!r}; PuLP status {pulp.LpStatus[prob.status]}"
            )
        return RawSolution(
            status=code,
            x=x,
            objective=obj,
            bound=bound,
            solver="cbc",
            version=f"CBC via PuLP {pulp.__version__}",
            seconds=time.perf_counter() - start,
            message=result,
            extra={"cbc_objective": obj_log},
        )
