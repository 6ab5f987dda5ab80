"""OR-Tools CP-SAT, on an integer copy of the compiled MILP that is exact wherever it can be.

CP-SAT works in 64-bit integers, so every row becomes integer coefficients over the integer
variables (0/1 awards and auxiliaries, and the total T in whole pence):

* T is replaced by its definition (the sum of award costs) in every row but its own, so every
  coefficient of a share row applies to a 0/1 award. The substitution is done in floating
  point; its rounding error is measured (error-free sum, exact-product test) and, where not
  zero, counted in the row's widening below.
* Each row is multiplied by a power of two 2^e, which is exact in floating point. Its
  *mass* (sum of |coefficient| x largest |value| of its variable, i.e. the largest activity
  CP-SAT can meet on the row) is kept at most 2^53 (``MASS_BITS``, CP-SAT's own limit when it
  scales a floating-point model), far below its int64 limits, so that presolve can add and
  scale rows without overflow, and every coefficient is an exact integer in a float.
* Exact rows: when a 2^e within that mass makes every coefficient an integer (money in pence:
  e = 0; shares such as 3/4 or 5/4 of the total: e = 2), the smallest such e is used and the
  bounds are rounded inwards (the activity is an integer, so this changes nothing): the integer
  row accepts exactly the allocations the compiled row accepts, whatever the bounds (the
  compiled rows carry margins such as +-1e-3 pence; they pass through unchanged). A
  whole-number row too massive for 2^53 is first divided by the gcd of its coefficients.
* Rounded rows (attributed money: pro-rata shares are arbitrary binary fractions): the largest
  2^e within the mass is used and coefficients are rounded to the nearest integers. The bounds
  are widened by the exact range of the rounding error over the variables' box (plus a
  safety term for float sums and the substitution), so every allocation that meets the
  compiled row, exact ties included, meets the integer row; and one the integer row accepts
  breaks the compiled row by at most (error range) / 2^e, recorded as ``max_row_violation``.
  That is at most (terms / 2) x mass / 2^53 pence (8x less than at 2^50, where a round mixing
  pennies and £10bn leaked past its 1e-3 p margin 50 times in a row: fuzz seed 2027 round 9100).
* Bounds are clamped to the row's activity range, so no domain holds a number beyond its
  mass; rows that no allocation in the box can break are left out.

The objective is scaled to integers with a relative resolution of about 2^-50; the reported
bound is widened by the rounding error.

Presolve: OR-Tools 9.15's ``ActivityBoundHelper::RemoveEnforcementThatMakesConstraintTrivial``
adds 64-bit coefficients into 32-bit ints (google/or-tools#5293). Once the boolean terms of a
row sum past 2^31 the sum wraps, presolve drops an enforcement literal it has derived, and
feasible allocations are cut off: CP-SAT then reports a wrong "optimal" (seen: 328.3 for
554.1 and 301.3 for 661.5). Money rows in pence pass 2^31 (GBP 21m) on ordinary rounds, so
no scaling avoids it; the only caller, ``ProcessAtMostOneAndLinear``, is switched off with
``presolve_inclusion_work_limit = 0``.

Scales and error bounds are recorded in ``RawSolution.extra``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from importlib.metadata import version

import numpy as np
import scipy.sparse as sp
from ortools.sat.python import cp_model

from allocate.domain.errors import SolverError
from allocate.domain.schema import MAX_PENCE
from allocate.engine.backends.base import PinningSession, RawSolution, RawStatus, SolverOptions, proven
from allocate.engine.backends.stop import halted, in_side_thread, running
from allocate.engine.compile import TOTAL_RULE, CompiledProblem

MASS_BITS = 53
"""Every integer row has sum |coefficient| x max |variable| <= 2^MASS_BITS (plus rounding)."""

_OBJ_RESOLUTION = 2.0**50
_EPS = 2.0**-52  # twice the unit roundoff of float64: bounds one rounding of any float op
SUBSTITUTE_MAX = 2**24
"""T is substituted only while the dense block (rows with T x variables) has at most this many
entries: at 17,300 applications it would hold 30m (4.3 GB peak, against 0.64 GB without), at
173,000 three billion. Beyond it T stays an integer variable in pence: its rows are widened as
every rounded row is (see below), so no allocation is cut off, and the margin check excludes
any answer that breaks a compiled row by more than its margin."""
LIGHT_PRESOLVE_FROM = 10_000
"""Candidate awards from which CP-SAT presolves lightly (no probing, one pass). At 17,300
applications full presolve takes 8 s and finds nothing the light one misses: the bound reaches
the same 660.3m at 2.9 s instead of 24 s, and the start is taken at 1.7 s instead of 8.1 s."""
_CHUNK = 2**22  # entries of the dense block used to substitute T, per step

_VERSION = f"OR-Tools {version('ortools')}"  # read once: metadata lookups cost ~1 ms


def _binary_digits(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(significant bits, fraction bits) of each float: value = odd x 2^-(fraction bits).

    Zero has 0 significant bits and fraction bits -2^30 (it needs no scale).
    """
    mantissa, exponent = np.frexp(values)  # value = mantissa * 2^exponent, 0.5 <= |mantissa| < 1
    m = np.abs(np.ldexp(mantissa, 53)).astype(np.int64)  # exact: an integer in [2^52, 2^53)
    zero = m == 0
    low = np.where(zero, 1, m & -m)  # lowest set bit, a power of two
    trailing = np.log2(low.astype(np.float64)).astype(np.int64)  # exact for powers of two
    significant = np.where(zero, 0, 53 - trailing)
    fraction = np.where(zero, -(2**30), 53 - exponent.astype(np.int64) - trailing)
    return significant, fraction


def _substitute_total(model: CompiledProblem, size: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """The constraint matrix with T replaced by the sum of award costs (except in T's own row).

    Also returns, per row, a bound on sum_j |exact coefficient - float coefficient| x size_j:
    the error of the substitution done in floating point (zero where it was exact).
    """
    A = model.A.tocsr()
    n_rows = A.shape[0]
    uncertainty = np.zeros(n_rows)
    if model.total_col is None:
        return A, uncertainty
    col = model.total_col
    t = np.asarray(A[:, [col]].todense()).ravel()
    t[model.row_rule == TOTAL_RULE] = 0.0
    rows = np.flatnonzero(t)
    if not len(rows) or len(rows) * model.n_vars > SUBSTITUTE_MAX:
        return A, uncertainty
    cost = np.zeros(model.n_vars)
    cost[: model.n] = model.cost
    cost_bits, _ = _binary_digits(cost)
    t_bits, _ = _binary_digits(t[rows])
    new_rows, new_cols, new_data = [], [], []
    step = max(1, _CHUNK // max(1, model.n_vars))
    for start in range(0, len(rows), step):
        r = rows[start : start + step]
        a = A[r].toarray()
        a[:, col] = 0.0
        p = t[r, None] * cost[None, :]
        s = a + p
        z = s - a
        sum_error = (a - (s - z)) + (p - z)  # exact: s + sum_error == a + p (Knuth's TwoSum)
        # t * cost is exact when their significant bits fit in 53; otherwise off by < 2^-52 |p|.
        inexact = (t_bits[start : start + step, None] + cost_bits[None, :]) > 53
        error = np.abs(sum_error) + np.where(inexact, _EPS * np.abs(p), 0.0)
        uncertainty[r] = (error @ size) * (1 + _EPS * (model.n_vars + 2))
        block = sp.coo_matrix(s)
        new_rows.append(r[block.row])
        new_cols.append(block.col)
        new_data.append(block.data)
    coo = A.tocoo()
    keep = ~np.isin(coo.row, rows)
    out = sp.csr_matrix(
        (
            np.concatenate([coo.data[keep], *new_data]),
            (np.concatenate([coo.row[keep], *new_rows]), np.concatenate([coo.col[keep], *new_cols])),
        ),
        shape=A.shape,
    )
    out.sort_indices()
    out.eliminate_zeros()
    return out, uncertainty


def _row_sums(row_of: np.ndarray, values: np.ndarray, n_rows: int) -> np.ndarray:
    """Float sum of `values` per row (rows without entries: 0.0)."""
    return np.bincount(row_of, values, minlength=n_rows).astype(np.float64)


def _room(mass: np.ndarray) -> np.ndarray:
    """Largest e with mass x 2^e <= 2^MASS_BITS (a large number for an empty row)."""
    room = np.full(len(mass), 2**20, dtype=np.int64)
    positive = mass > 0
    room[positive] = np.floor(MASS_BITS - np.log2(mass[positive])).astype(np.int64)
    return room


def _bound(value: float, e: int, divisor: int, shift: float, upper: bool) -> int:
    """floor (upper) or ceil of value x 2^e / divisor + shift, computed exactly."""
    if divisor == 1 and shift == 0.0 and abs(e) < 900:
        scaled = math.ldexp(value, e)  # exact unless it overflows or underflows
        if math.isfinite(scaled) and math.ldexp(scaled, -e) == value:
            return math.floor(scaled) if upper else math.ceil(scaled)
    exact = Fraction(value) * Fraction(2) ** e / divisor + Fraction(shift)
    return math.floor(exact) if upper else math.ceil(exact)


@dataclass
class IntegerRows:
    """The compiled rows as integer rows for CP-SAT, and how they were made."""

    rows: list[int]  # the compiled row each integer row comes from
    vars: list[list[int]]
    coeffs: list[list[int]]
    domains: list[tuple[int, int]]
    exact_rows: int
    rounded_rows: int
    dropped_rows: int
    max_exponent: int
    min_exponent: int
    max_mass: int
    max_violation: float


def integer_rows(model: CompiledProblem, lb: np.ndarray, ub: np.ndarray) -> IntegerRows:
    """Scale every row of `model` to integers (see the module docstring); lb/ub: integer var bounds."""
    size = np.maximum(np.abs(lb), np.abs(ub)).astype(np.float64)
    A, uncertainty = _substitute_total(model, size)
    n_rows = A.shape[0]
    indptr, cols = A.indptr, A.indices
    counts = np.diff(indptr)
    row_of = np.repeat(np.arange(n_rows), counts)
    data = A.data.astype(np.float64)
    mass = _row_sums(row_of, np.abs(data) * size[cols], n_rows) * (1 + _EPS * (counts + 2))
    mass += uncertainty  # the exact coefficients may be that much larger
    _, fraction = _binary_digits(data)
    need = np.zeros(n_rows, dtype=np.int64)
    np.maximum.at(need, row_of, np.maximum(fraction, 0))
    room = _room(mass)
    divisor = np.ones(n_rows, dtype=np.int64)
    # Whole-number rows too massive to pass as they are: divide by the gcd of their coefficients.
    for r in np.flatnonzero((need == 0) & (room < 0) & (uncertainty == 0)).tolist():
        part = slice(indptr[r], indptr[r + 1])
        if np.max(np.abs(data[part])) < 2.0**62:
            gcd = int(np.gcd.reduce(data[part].astype(np.int64)))
            if gcd > 1:
                data[part] /= gcd  # exact: gcd divides every coefficient
                divisor[r] = gcd
                mass[r] /= gcd
    room = _room(mass)
    exact = (need <= room) & (uncertainty == 0)
    e = np.where(exact, need, room)
    y = np.ldexp(data, e[row_of])  # exact: a power-of-two scale
    c = np.rint(y)
    d = c - y  # exact (Sterbenz): each integer coefficient's rounding error, scaled units
    if np.any(d[exact[row_of]] != 0):  # pragma: no cover - exact rows are integral by construction
        raise SolverError("backend 'cpsat': an exact row did not scale to integers")
    lbf, ubf = lb.astype(np.float64)[cols], ub.astype(np.float64)[cols]
    d_lo = _row_sums(row_of, np.minimum(d * lbf, d * ubf), n_rows)
    d_hi = _row_sums(row_of, np.maximum(d * lbf, d * ubf), n_rows)
    d_abs = _row_sums(row_of, np.abs(d) * size[cols], n_rows)
    # Safety terms: rounding of the float sums above, the substitution's error in scaled units,
    # and < 2^-1070 per term where 2^e < 1 scaled a coefficient into the subnormal range.
    slack = d_abs * _EPS * (counts + 2) + np.ldexp(uncertainty, e) / divisor * (1 + _EPS * 4)
    slack += counts * 2.0**-1070
    d_lo -= slack
    d_hi += slack
    ci = c.astype(np.int64)
    lbi, ubi = lb[cols], ub[cols]
    act_lo = np.zeros(n_rows, dtype=np.int64)
    act_hi = np.zeros(n_rows, dtype=np.int64)
    np.add.at(act_lo, row_of, np.minimum(ci * lbi, ci * ubi))
    np.add.at(act_hi, row_of, np.maximum(ci * lbi, ci * ubi))
    abs_mass = np.zeros(n_rows, dtype=np.int64)
    np.add.at(abs_mass, row_of, np.abs(ci) * size[cols].astype(np.int64))

    out = IntegerRows([], [], [], [], 0, 0, 0, 0, 0, 0, 0.0)
    row_lo, row_hi = model.row_lo, model.row_hi
    for i in range(n_rows):
        ei, g = int(e[i]), int(divisor[i])
        lo, hi = float(row_lo[i]), float(row_hi[i])
        amin, amax = int(act_lo[i]), int(act_hi[i])
        low, high = amin, amax
        # Exact rows: bounds rounded inwards. Rounded rows: widened by the error range first.
        if math.isfinite(lo):
            low = max(amin, _bound(lo, ei, g, 0.0 if exact[i] else float(d_lo[i]), upper=False))
        if math.isfinite(hi):
            high = min(amax, _bound(hi, ei, g, 0.0 if exact[i] else float(d_hi[i]), upper=True))
        if not exact[i] and (math.isfinite(lo) or math.isfinite(hi)):
            # Whatever the integer row accepts has c.x within the widened bound, and
            # c.x - a.x 2^e/g within [d_lo, d_hi]: the compiled row is met to within this.
            out.max_violation = max(out.max_violation, math.ldexp(float(d_hi[i] - d_lo[i]), -ei) * g)
        if low == amin and high == amax:
            out.dropped_rows += 1  # no allocation in the box breaks it
            continue
        if low > high:
            low = high = amax + 1  # infeasible, with a domain CP-SAT accepts
        seg = slice(indptr[i], indptr[i + 1])
        out.rows.append(i)
        out.vars.append(cols[seg].tolist())
        out.coeffs.append(ci[seg].tolist())
        out.domains.append((low, high))
        out.max_exponent = max(out.max_exponent, ei)
        out.min_exponent = min(out.min_exponent, ei)
        out.max_mass = max(out.max_mass, int(abs_mass[i]))
        if exact[i]:
            out.exact_rows += 1
        else:
            out.rounded_rows += 1
    return out


class CpSatBackend:
    """CP-SAT on the integer-scaled model."""

    name = "cpsat"

    max_pence = MAX_PENCE

    def prepare(self, model: CompiledProblem) -> CpSatSession:
        # No check_range: validation keeps every amount a round states within MAX_PENCE, and a
        # bound derived from them (a share of new plus committed money) may lie beyond it;
        # the integer rows scale whatever they hold (fuzz seed 2033 round 759: £15.75bn).
        return CpSatSession(model)


class CpSatSession(PinningSession):
    """The integer-scaled model built once; each solve replaces only the objective."""

    name = "cpsat"

    def __init__(self, model: CompiledProblem) -> None:
        start = time.perf_counter()
        cp = cp_model.CpModel()
        lb = np.ceil(model.var_lb).astype(np.int64)
        ub = np.floor(model.var_ub).astype(np.int64)
        xs = [
            cp.new_int_var(int(low), int(high), label)
            for low, high, label in zip(lb, ub, model.var_labels, strict=True)
        ]
        rows = integer_rows(model, lb, ub)
        constraints = cp.proto.constraints
        for vars_, coeffs, (low, high) in zip(rows.vars, rows.coeffs, rows.domains, strict=True):
            linear = constraints.add().linear
            linear.vars.extend(vars_)
            linear.coeffs.extend(coeffs)
            linear.domain.extend([low, high])
        self.rows = rows
        self.model = model
        self.version = _VERSION
        self.cp = cp
        self.xs = xs
        self.lb, self.ub = lb.astype(np.float64), ub.astype(np.float64)
        self.build_seconds = time.perf_counter() - start

    def _exclude(self, up: np.ndarray, down: np.ndarray) -> None:
        self.cp.add(sum(self.xs[int(j)] for j in up) + sum(1 - self.xs[int(j)] for j in down) >= 1)

    def _set_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        variables = self.cp.proto.variables
        for j, low, high in zip(cols, lo, hi, strict=True):
            variables[int(j)].domain[0] = int(low)
            variables[int(j)].domain[1] = int(high)

    def _solve(self, objective: np.ndarray, options: SolverOptions, hint: np.ndarray | None) -> RawSolution:
        start = time.perf_counter()
        cp, xs = self.cp, self.xs
        # The objective's reach over the variables' domains (0/1 for awards, wider for the
        # relaxations diagnose adds) stays within 2^50, so no term can overflow.
        reach = np.maximum(np.maximum(np.abs(self.lb), np.abs(self.ub)), 1.0)
        top = float(np.abs(objective) @ reach)
        obj_scale = _OBJ_RESOLUTION / top if top > 0 else 1.0
        obj_int = np.round(objective * obj_scale).astype(np.int64)
        nz = np.flatnonzero(obj_int)
        cp.maximize(cp_model.LinearExpr.weighted_sum([xs[j] for j in nz], [int(c) for c in obj_int[nz]]))
        cp.clear_hints()  # type: ignore[no-untyped-call]
        if hint is not None:
            hinted = cp.proto.solution_hint
            hinted.vars.extend(range(len(xs)))
            hinted.values.extend(np.rint(np.asarray(hint, dtype=np.float64)).astype(np.int64).tolist())
        solver = cp_model.CpSolver()
        p = solver.parameters
        p.num_workers = options.threads
        p.random_seed = options.seed
        p.relative_gap_limit = options.relative_gap
        p.log_search_progress = options.verbose
        # Works around google/or-tools#5293 (wrong "optimal"); see the module docstring.
        p.presolve_inclusion_work_limit = 0
        # CP-SAT's own SIGINT handler would end the search as if it had finished ("feasible",
        # exit 0); the signal is left to Python, which stops the solve (allocate.engine.backends.stop).
        p.catch_sigint_signal = False
        if options.time_limit is not None:
            p.max_time_in_seconds = options.time_limit
        if self.model.n >= LIGHT_PRESOLVE_FROM:
            p.cp_model_probing_level = 0
            p.max_presolve_iterations = 1
        if halted():  # the run is being stopped: no new search
            p.max_time_in_seconds = 0.0
        with running(solver.stop_search):
            status = in_side_thread(lambda: solver.solve(cp))
        has = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        x = np.array(solver.response_proto.solution, dtype=np.float64) if has else None
        obj = float(objective @ x) if x is not None else None
        # CP-SAT's bound is on the rounded objective; widen it by the rounding error.
        rounding = 0.5 * float(reach[nz].sum()) / obj_scale
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
        rows = self.rows
        scaling = {
            "objective_scale": obj_scale,
            "exact_rows": rows.exact_rows,
            "rounded_rows": rows.rounded_rows,
            "max_row_scale_exponent": rows.max_exponent,
            "max_row_mass_bits": math.log2(rows.max_mass) if rows.max_mass else 0.0,
            "max_row_violation": rows.max_violation,
        }
        return self._answer(code, x, obj, bound, start, solver.status_name(status), scaling)
