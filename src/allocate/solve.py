"""`solve()`: compile, run a backend, verify independently, optionally certify, report."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from allocate.backends import DEFAULT_BACKEND, get_backend
from allocate.backends.base import out_of_time, solve_once
from allocate.certify import certify as certify_claim
from allocate.certify import checker_for
from allocate.compile import CompiledProblem, compile_problem
from allocate.construct import CONSTRUCT_FROM, better_of, budget_bound, construct
from allocate.errors import InvalidProblemError, VerificationError
from allocate.finish import finish
from allocate.model import Problem, Weights
from allocate.options import SolverOptions
from allocate.result import Allocation

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
    (`allocate.construct`), hands it to the solver as its start and keeps it as the answer
    ("feasible", with the solver's bound) if the solver finds nothing better in time.

    ``certify=True`` (or the name of a backend) has a second, different backend check the
    claim ("optimal" or "infeasible"); the Allocation records its ``certificate``, and a
    contradiction raises CertificationError (see `allocate.certify`).
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
    start = None
    if construct_start is None:
        construct_start = hint is None and model.n >= CONSTRUCT_FROM
    if construct_start:
        start = construct(model, objective)
        hint = start if hint is None else hint
    left = options.left_since(started)
    if left is not None and left.time_limit is not None:  # keep time to verify and report the answer
        reserve = min(FINISH_SECONDS_PER_NONZERO * model.A.nnz, left.time_limit / 2)
        left = left.model_copy(update={"time_limit": left.time_limit - reserve})
    raw = out_of_time(backend, time.perf_counter() - started) if left is None else solve_once(
        engine, model, objective, left, hint
    )
    answer = raw if start is None else better_of(raw, start, objective, options, budget_bound(model, objective))
    try:
        allocation = finish(problem, model, answer, w, backend, options, diagnose=diagnose, started=started)
    except VerificationError:
        if start is None or answer.x is not start:
            raise
        # The start met every row in floating point but not the verifier's exact sums: not an answer.
        allocation = finish(problem, model, raw, w, backend, options, diagnose=diagnose, started=started)
    raw = answer
    if checker is None:
        return allocation
    start = None if raw.x is None else np.round(raw.x)
    return certify_claim(problem, model, allocation, objective, start, checker, options)
