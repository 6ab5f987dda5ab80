"""`solve()`: compile, run a backend, verify independently, optionally certify, report."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from allocate.domain.errors import InvalidProblemError, SolverError, VerificationError
from allocate.domain.model import Problem
from allocate.domain.parts import Weights
from allocate.engine.backends import DEFAULT_BACKEND, get_backend
from allocate.engine.backends.base import RawSolution, RawStatus, out_of_time, proven, solve_once
from allocate.engine.bound import budget_bound
from allocate.engine.certify import certify as certify_claim
from allocate.engine.certify import checker_for
from allocate.engine.compile import CompiledProblem, compile_problem
from allocate.engine.construct import CONSTRUCT_FROM, construct
from allocate.engine.finish import finish
from allocate.engine.options import SolverOptions
from allocate.engine.result import Allocation

CONSTRUCT_SECONDS_PER_NONZERO = 1.5e-6
"""Measured time to build the start (7 s at 173,000 applications, 5.2m non-zeros): it is built
only when the time left is at least twice this, so a short limit goes to the solver."""

FINISH_SECONDS_PER_NONZERO = 3.5e-6
"""Time kept back from the solver, per non-zero of the constraint matrix, to hand the model over
and to verify and report the answer within the time limit. Measured at 173,000 applications
(5.2m non-zeros): CP-SAT overran its own limit by 0.5 s and fingerprinting, verifying and
reporting 66,000 awards took 14-17 s; at 17,300 (0.5m) 1.3 s; East Sussex (4,000) a few ms."""


def solve(
    problem: Problem | dict[str, Any],
    backend: str = DEFAULT_BACKEND,
    *,
    weights: Weights | None = None,
    options: SolverOptions | None = None,
    compiled: CompiledProblem | None = None,
    hint: np.ndarray | None = None,
    diagnose: bool = True,
    certify: bool | str = False,
    construct_start: bool | None = None,
    **option_fields: Any,
) -> Allocation:
    """Find the allocation of greatest value that meets every rule, and verify it.

    `backend` is ``"cpsat"`` (default) or ``"highs"``. Solver
    options (``time_limit``, ``relative_gap``, ``threads``, ``seed``, ``verbose``) may be
    passed as keywords or as a SolverOptions. `weights` overrides problem.weights (a
    what-if); `compiled` reuses an earlier ``compile_problem(problem)``. An infeasible
    problem returns status ``"infeasible"`` with the clashing rules in ``conflict``
    (unless ``diagnose=False``). Raises VerificationError if a solver's answer breaks a rule.
    ``time_limit`` bounds the whole call: compiling and loading the model count against it.
    ``construct_start`` (default: on rounds of `CONSTRUCT_FROM` candidate awards or more, when
    no `hint` is given) first builds a greedy allocation that meets every rule
    (`allocate.engine.construct`), hands it to the solver as its start and keeps it as the answer
    ("feasible", with the solver's bound) if the solver finds nothing better in time.

    ``certify=True`` (or the name of a backend) has a second, different backend check the
    claim ("optimal" or "infeasible"); the Allocation records its ``certificate``, and a
    contradiction raises CertificationError (see `allocate.engine.certify`).
    """
    started = time.perf_counter()
    if isinstance(problem, dict):
        problem = Problem.from_dict(problem)
    if not isinstance(problem, Problem):
        raise InvalidProblemError(("problem",), f"expected a Problem or a dict, got {type(problem).__name__}")
    if options is None:
        options = SolverOptions(**option_fields)
    elif option_fields:
        options = SolverOptions(**{**options.model_dump(), **option_fields})
    w = problem.weights if weights is None else weights
    model = compile_problem(problem) if compiled is None else compiled
    if model.problem is not problem:
        raise InvalidProblemError(("compiled",), "was compiled from a different problem")
    engine = get_backend(backend)
    checker = checker_for(backend, certify)
    outcome, social = model.objective(w)
    objective = outcome + social
    if hint is not None and np.shape(hint) != (model.n_vars,):
        raise InvalidProblemError(
            ("hint",), f"has shape {np.shape(hint)}; the model has {model.n_vars} variables"
        )
    start = None
    if construct_start is None:
        construct_start = hint is None and model.n >= CONSTRUCT_FROM
    left = options.left_since(started)
    if construct_start and left is not None and _time_for_start(left, model):
        start = construct(model, objective)
        hint = start if hint is None else hint
        left = options.left_since(started)
    if left is not None and left.time_limit is not None:  # keep time to verify and report the answer
        reserve = min(FINISH_SECONDS_PER_NONZERO * model.A.nnz, left.time_limit / 2)
        left = left.model_copy(update={"time_limit": left.time_limit - reserve})
    raw = (
        out_of_time(backend, time.perf_counter() - started)
        if left is None
        else solve_once(engine, model, objective, left, hint)
    )
    if start is not None:
        raw = better_of(raw, start, objective, options, budget_bound(model, objective))
    try:
        allocation = finish(problem, model, raw, w, backend, options, diagnose=diagnose, started=started)
    except VerificationError:
        if start is None or raw.x is None or not np.array_equal(np.round(raw.x[: model.n]), start[: model.n]):
            raise
        # The start (the answer, or the solver's from it) met every row in floating point but not
        # the verifier's exact sums: solve again without it, in the time left.
        rest = options if options.time_limit is None else options.left_since(started)
        if rest is None:
            return finish(problem, model, out_of_time(backend, 0.0), w, backend, options, started=started)
        return solve(
            problem,
            backend,
            weights=weights,
            options=rest,
            compiled=model,
            diagnose=diagnose,
            certify=certify,
            construct_start=False,
        )
    if checker is None:
        return allocation
    start = None if raw.x is None else np.round(raw.x)
    return certify_claim(problem, model, allocation, objective, start, checker, options)


def _time_for_start(left: SolverOptions, model: CompiledProblem) -> bool:
    """Whether the time left is worth spending on a constructed start."""
    return left.time_limit is None or left.time_limit >= 2 * CONSTRUCT_SECONDS_PER_NONZERO * model.A.nnz


def better_of(
    raw: RawSolution,
    start: np.ndarray,
    objective: np.ndarray,
    options: SolverOptions,
    bound: float | None = None,
) -> RawSolution:
    """The solver's answer, or the constructed start where the solver found nothing better in time.

    `bound` (e.g. `budget_bound`) is used where it is tighter than the solver's, or the solver
    has none; the status is "optimal" only when the value and the tightest bound prove it. A
    solver that calls the round infeasible, or bounds its value below the start's, although the
    start meets every row, is wrong: that is an error, never an answer.
    """
    if raw.status == "infeasible":
        raise SolverError(
            f"backend {raw.solver!r} called the round infeasible, but a constructed allocation meets every rule"
        )
    value = float(objective @ start)
    if (
        raw.bound is not None
        and np.isfinite(raw.bound)
        and raw.bound < value - 1e-9 * max(1.0, abs(value)) - 1e-6
    ):
        raise SolverError(
            f"backend {raw.solver!r} bounded the value at {raw.bound}, but a constructed allocation "
            f"that meets every rule is worth {value}"
        )
    extra = {**raw.extra, "start_value": value}
    mine = raw.x is not None and raw.objective is not None and raw.objective >= value
    best = float(raw.objective) if mine and raw.objective is not None else value
    bounds = [b for b in (raw.bound, bound) if b is not None and np.isfinite(b) and b >= best]
    tightest = min(bounds) if bounds else None
    if tightest is not None and tightest != raw.bound:
        extra["bound_from"] = "budget"
    status: RawStatus = "optimal" if proven(best, tightest, options) else "feasible"
    if mine:
        return dataclasses.replace(raw, status=status, bound=tightest, extra=extra)
    return dataclasses.replace(
        raw,
        status=status,
        x=start,
        objective=value,
        bound=tightest,
        extra={**extra, "answer": "constructed start"},
    )
