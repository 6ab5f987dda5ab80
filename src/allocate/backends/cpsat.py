"""OR-Tools CP-SAT, with the compiled MILP scaled exactly to integers.

Money rows already have integer coefficients (pence) and pass unchanged. Rows that use the
total awarded T (shares of the total) get T replaced by its definition (the sum of award
costs), so every remaining coefficient applies to a 0/1 award. A row with fractional
coefficients (pro-rata attribution, shares) is multiplied by 10^k (k <= 9, as large as
int64 allows) and rounded to the nearest integers; its bound is widened by the largest
possible rounding error, so every allocation that meets the original row (exact ties
included) stays feasible, and an accepted allocation can break the original row by at
most 2 x that error / 10^k (recorded as ``max_row_violation``; far below the verifier's
penny). The objective is scaled to integers with a relative resolution of about 2^-50.
Scales are recorded in ``RawSolution.extra``.
"""

from __future__ import annotations

import math
import time
from importlib.metadata import version

import numpy as np
import scipy.sparse as sp
from ortools.sat.python import cp_model

from allocate.backends.base import PinningSession, RawSolution, RawStatus, SolverOptions, proven
from allocate.compile import TOTAL_RULE, CompiledProblem
from allocate.errors import SolverError

_INT_LIMIT = 2.0**60
_OBJ_RESOLUTION = 2.0**50

_VERSION = f"OR-Tools {version('ortools')}"  # read once: metadata lookups cost ~1 ms


def _is_integral(values: np.ndarray) -> bool:
    return bool(np.all(values == np.round(values)))


def _without_total(model: CompiledProblem) -> sp.csr_matrix:
    """The constraint matrix with T replaced by the sum of award costs (except in T's own row)."""
    A = model.A.tocsr()
    if model.total_col is None:
        return A
    t = np.asarray(A[:, model.total_col].todense()).ravel()
    t[model.row_rule == TOTAL_RULE] = 0.0
    rows = np.flatnonzero(t)
    if not len(rows):
        return A
    cost = np.zeros(model.n_vars)
    cost[: model.n] = model.cost
    extra = sp.csr_matrix(np.outer(t[rows], cost))
    add = sp.csr_matrix((extra.data, extra.indices, extra.indptr), shape=(len(rows), model.n_vars))
    A = A.tolil()
    A[rows, :] = A[rows, :] + add
    A[rows, model.total_col] = 0.0
    out = A.tocsr()
    out.eliminate_zeros()
    return out


def _row_scale(coefs: np.ndarray, ubs: np.ndarray, lo: float, hi: float) -> int:
    """Power of ten k making the row integral, or the largest that keeps it within int64."""
    bounds = np.array([b for b in (lo, hi) if math.isfinite(b)])
    if _is_integral(coefs) and _is_integral(bounds):
        return 0
    mass = float(np.abs(coefs) @ ubs + np.abs(bounds).sum()) or 1.0
    return max(0, min(9, math.floor(math.log10(_INT_LIMIT / mass))))


class CpSatBackend:
    """CP-SAT on the integer-scaled model."""

    name = "cpsat"

    def prepare(self, model: CompiledProblem) -> CpSatSession:
        return CpSatSession(model)


class CpSatSession(PinningSession):
    """The integer-scaled model built once; each solve replaces only the objective."""

    def __init__(self, model: CompiledProblem) -> None:
        start = time.perf_counter()
        cp = cp_model.CpModel()
        ub = np.floor(model.var_ub).astype(np.int64)
        xs = [cp.new_int_var(0, int(u), label) for u, label in zip(ub, model.var_labels, strict=True)]
        A = _without_total(model)
        self.max_violation = 0.0
        self.scaled_rows = 0
        self.max_k = 0
        for i in range(A.shape[0]):
            cols = A.indices[A.indptr[i] : A.indptr[i + 1]]
            coefs = A.data[A.indptr[i] : A.indptr[i + 1]]
            lo, hi = float(model.row_lo[i]), float(model.row_hi[i])
            terms = [xs[j] for j in cols]
            k = _row_scale(coefs, ub[cols], lo, hi)
            if k == 0 and _is_integral(coefs):
                expr = cp_model.LinearExpr.weighted_sum(terms, [int(c) for c in coefs])
                if math.isfinite(lo) and math.isfinite(hi):
                    cp.add_linear_constraint(expr, math.ceil(lo), math.floor(hi))
                elif math.isfinite(lo):
                    cp.add(expr >= math.ceil(lo))
                elif math.isfinite(hi):
                    cp.add(expr <= math.floor(hi))
                continue
            self.scaled_rows += 1
            self.max_k = max(self.max_k, k)
            s = 10.0**k
            rounded = np.round(coefs * s)
            err = float(np.abs(rounded - coefs * s) @ ub[cols])
            self.max_violation = max(self.max_violation, 2 * err / s)
            expr = cp_model.LinearExpr.weighted_sum(terms, [int(c) for c in rounded])
            if math.isfinite(hi):
                cp.add(expr <= math.floor(hi * s + err))
            if math.isfinite(lo):
                cp.add(expr >= math.ceil(lo * s - err))
        self.cp = cp
        self.xs = xs
        self.lb, self.ub = model.var_lb, ub.astype(np.float64)
        self.build_seconds = time.perf_counter() - start

    def _set_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        variables = self.cp.proto.variables
        for j, low, high in zip(cols, lo, hi, strict=True):
            variables[int(j)].domain[0] = int(low)
            variables[int(j)].domain[1] = int(high)

    def _solve(self, objective: np.ndarray, options: SolverOptions, hint: np.ndarray | None) -> RawSolution:
        start = time.perf_counter()
        cp, xs = self.cp, self.xs
        top = float(np.abs(objective).sum())
        obj_scale = _OBJ_RESOLUTION / top if top > 0 else 1.0
        obj_int = np.round(objective * obj_scale).astype(np.int64)
        nz = np.flatnonzero(obj_int)
        cp.maximize(cp_model.LinearExpr.weighted_sum([xs[j] for j in nz], [int(c) for c in obj_int[nz]]))
        cp.clear_hints()  # type: ignore[no-untyped-call]
        if hint is not None:
            for var, v in zip(xs, hint, strict=True):
                cp.add_hint(var, round(v))
        solver = cp_model.CpSolver()
        p = solver.parameters
        p.num_workers = options.threads
        p.random_seed = options.seed
        p.relative_gap_limit = options.relative_gap
        p.log_search_progress = options.verbose
        if options.time_limit is not None:
            p.max_time_in_seconds = options.time_limit
        status = solver.solve(cp)
        has = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        x = np.array([solver.value(v) for v in xs], dtype=np.float64) if has else None
        obj = float(objective @ x) if x is not None else None
        # CP-SAT's bound is on the rounded objective; widen it by the rounding error.
        rounding = 0.5 * len(nz) / obj_scale
        bound = solver.best_objective_bound / obj_scale + rounding if has else None
        code: RawStatus
        if status == cp_model.INFEASIBLE:
            code = "infeasible"
        elif status == cp_model.OPTIMAL:
            code = "optimal"
        elif status == cp_model.FEASIBLE:
            code = "optimal" if proven(obj, bound, options) else "feasible"
        elif status == cp_model.UNKNOWN:
            code = "no_solution"
        else:
            raise SolverError(f"backend 'cpsat' failed: {solver.status_name(status)} {cp.validate()}")
        return RawSolution(
            status=code,
            x=x,
            objective=obj,
            bound=bound,
            solver="cpsat",
            version=_VERSION,
            seconds=time.perf_counter() - start,
            message=solver.status_name(status),
            extra={
                "objective_scale": obj_scale,
                "scaled_rows": self.scaled_rows,
                "max_row_scale_exponent": self.max_k,
                "max_row_violation": self.max_violation,
            },
        )
