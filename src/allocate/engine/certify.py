"""Certificates: a second, different backend checks the first one's claim.

A solver's word is not a proof. `certify` asks another backend, on the same compiled model:

* for "optimal" (within the requested relative gap): to solve again, started from the
  allocation. A better verified allocation, or a proved bound below the allocation's own
  verified value, contradicts the claim. The claim is confirmed when the checker proves a bound
  within the gap of the value.
* for "feasible" (stopped early): that the checker finds nothing above the claimed bound.
* for "infeasible": that the checker finds no allocation either, for the whole round and for
  the named conflict alone (so the conflict really is a clash).

A contradiction raises CertificationError with both answers. Values are compared to within
`VALUE_REL` (relative) or `VALUE_ABS`: the solvers' own optimality tolerances.
"""

from __future__ import annotations

import math
import time

import numpy as np

from allocate.domain.errors import AllocateError, CertificationError, InvalidProblemError
from allocate.domain.model import Problem
from allocate.domain.parts import Weights
from allocate.engine.backends import NAMES, get_backend
from allocate.engine.backends.base import RawSolution, largest_amount, relative_gap, solve_once
from allocate.engine.compile import CompiledProblem
from allocate.engine.conflict import group_name, restrict
from allocate.engine.finish import finish
from allocate.engine.options import SolverOptions
from allocate.engine.result import Allocation, Certificate

VALUE_REL = 1e-9
VALUE_ABS = 1e-6

PARTNER = {"highs": "cpsat", "cpsat": "highs"}
"""The checker used for `certify=True`: a solver built on different code from the first."""


def same_value(a: float, b: float) -> bool:
    """Whether two objective values are equal to within the solvers' optimality tolerances."""
    return math.isclose(a, b, rel_tol=VALUE_REL, abs_tol=VALUE_ABS)


def checker_for(backend: str, certify: bool | str) -> str | None:
    """The backend that checks `backend`'s claims, or None when not certifying."""
    if certify is False:
        return None
    checker = PARTNER[backend] if certify is True else certify
    if checker not in NAMES or checker == backend:
        others = ", ".join(n for n in NAMES if n != backend)
        raise InvalidProblemError(("certify",), f"must be True or another backend than {backend!r}: {others}")
    return checker


def certify(
    problem: Problem,
    model: CompiledProblem,
    allocation: Allocation,
    objective: np.ndarray,
    hint: np.ndarray | None,
    checker: str,
    options: SolverOptions,
) -> Allocation:
    """`allocation` with its Certificate from `checker`; CertificationError on a contradiction."""
    if allocation.status == "no_solution":
        return allocation
    start = time.perf_counter()
    engine = get_backend(checker)
    claim = _describe(allocation)
    largest = largest_amount(model)
    if largest > engine.max_pence:  # the checker would refuse: say so rather than fail the solve
        certificate = Certificate(
            backend=checker,
            status="no_solution",
            seconds=0.0,
            confirmed=False,
            note=f"{checker} is not trusted on amounts above £{engine.max_pence // 100:,} "
            f"(this round has £{largest / 100:,.2f})",
        )
        message = f"{allocation.message} Not certified: {certificate.note}."
        return allocation.model_copy(update={"certificate": certificate, "message": message})
    if allocation.status == "infeasible":
        raw = solve_once(engine, model, np.zeros(model.n_vars), options)
        _refute_infeasible(problem, model, raw, allocation, checker, options, claim)
        settled = raw.status == "infeasible"
        note = (
            "no allocation meets every rule"
            if settled
            else f"stopped ({raw.status}) before settling the claim"
        )
        if allocation.conflict and raw.status == "infeasible":
            conflict = _conflict_rows(model, allocation.conflict)
            alone = solve_once(engine, restrict(model, conflict), np.zeros(model.n_vars), options)
            if alone.status != "infeasible" and alone.x is not None:
                raise CertificationError(
                    f"{claim}, but {checker!r} meets the named conflict's rules on their own",
                    claim,
                    f"{checker}: the conflict alone is feasible",
                )
            note += "; the named conflict alone is infeasible" if alone.status == "infeasible" else ""
        return _with(allocation, checker, raw, None, start, settled, note)
    raw = solve_once(engine, model, objective, options, hint)
    found = _checker_allocation(problem, model, raw, allocation.weights, checker, options, claim)
    value = allocation.value
    ceiling = allocation.bound if allocation.status == "feasible" and allocation.bound is not None else value
    if found is not None and found.value > ceiling and not same_value(found.value, ceiling):
        raise CertificationError(
            f"{claim}, but {checker!r} found a verified allocation of value {found.value:.10g}",
            claim,
            f"{checker}: {found.status} {found.value:.10g}",
        )
    bound = raw.bound if raw.bound is not None and math.isfinite(raw.bound) else None
    if raw.status == "optimal" and found is not None:
        bound = found.value if bound is None else max(bound, found.value)
    if bound is not None and bound < value and not same_value(bound, value):
        raise CertificationError(
            f"{claim}, but {checker!r} proved no allocation exceeds {bound:.10g}",
            claim,
            f"{checker}: {raw.status}, bound {bound:.10g}",
        )
    gap = options.relative_gap
    confirmed = (
        allocation.status == "optimal"
        and bound is not None
        and (relative_gap(value, bound) <= gap + VALUE_REL or same_value(bound, value))
    )
    if allocation.status == "feasible":
        note = "nothing found above the claimed bound"
        confirmed = raw.status in ("optimal", "feasible")
    elif confirmed:
        note = f"proved nothing exceeds {bound:.10g}" if bound is not None else ""
    else:
        note = f"stopped ({raw.status}) before settling the claim"
    return _with(allocation, checker, raw, found, start, confirmed, note)


def _describe(allocation: Allocation) -> str:
    if allocation.status == "infeasible":
        return f"{allocation.solver.backend!r} said infeasible"
    return f"{allocation.solver.backend!r} said {allocation.status} at value {allocation.value:.10g}"


def _checker_allocation(
    problem: Problem,
    model: CompiledProblem,
    raw: RawSolution,
    weights: Weights,
    checker: str,
    options: SolverOptions,
    claim: str,
) -> Allocation | None:
    """The checker's own answer, verified; an infeasible verdict contradicts any allocation."""
    if raw.status == "infeasible":
        raise CertificationError(
            f"{claim}, but {checker!r} found the round infeasible", claim, f"{checker}: infeasible"
        )
    if raw.x is None:
        return None
    try:
        return finish(problem, model, raw, weights, checker, options, diagnose=False)
    except AllocateError as exc:
        raise CertificationError(
            f"{claim}; the checker {checker!r} failed: {exc}", claim, f"{checker}: {exc}"
        ) from exc


def _refute_infeasible(
    problem: Problem,
    model: CompiledProblem,
    raw: RawSolution,
    allocation: Allocation,
    checker: str,
    options: SolverOptions,
    claim: str,
) -> None:
    if raw.x is None:
        return
    found = _checker_allocation(problem, model, raw, allocation.weights, checker, options, claim)
    if found is not None:
        raise CertificationError(
            f"{claim}, but {checker!r} found a verified allocation ({len(found.awards)} awards)",
            claim,
            f"{checker}: {found.status} {found.value:.10g}",
        )


def _conflict_rows(model: CompiledProblem, conflict: tuple[str, ...]) -> np.ndarray:
    """Rows named in a conflict (by row label, or by rule group name), plus structural rows."""
    named = set(conflict)
    keep = model.row_structural | np.array([label in named for label in model.row_labels], dtype=bool)
    if not keep[~model.row_structural].any():  # the conflict named rule groups, not rows
        groups = {g for g in np.unique(model.row_rule) if group_name(model, int(g)) in named}
        keep |= np.isin(model.row_rule, list(groups))
    return np.asarray(keep)


def _with(
    allocation: Allocation,
    checker: str,
    raw: RawSolution,
    found: Allocation | None,
    start: float,
    confirmed: bool,
    note: str,
) -> Allocation:
    certificate = Certificate(
        backend=checker,
        status=raw.status,
        value=None if found is None else found.value,
        bound=raw.bound if raw.bound is not None and math.isfinite(raw.bound) else None,
        seconds=time.perf_counter() - start,
        confirmed=confirmed,
        note=note,
    )
    message = allocation.message + (
        f" Certified by {checker}." if confirmed else f" Not certified: {checker} {note}."
    )
    return allocation.model_copy(update={"certificate": certificate, "message": message})
