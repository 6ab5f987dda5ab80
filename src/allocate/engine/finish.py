"""Turn a backend's raw solution into a verified Allocation (or an infeasible one, explained)."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import weakref
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from allocate.domain.errors import SolverError, VerificationError
from allocate.domain.model import Problem
from allocate.domain.parts import Weights
from allocate.domain.tally import candidate_value
from allocate.engine.backends import get_backend
from allocate.engine.backends.base import RawSolution, relative_gap
from allocate.engine.compile import CompiledProblem
from allocate.engine.conflict import find_conflict
from allocate.engine.options import SolverOptions
from allocate.engine.result import Allocation, Award, RuleReport, SolverInfo
from allocate.engine.verify import verify


@functools.cache
def library_version() -> str:
    try:
        return version("allocate")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


_digests: dict[int, tuple[weakref.ref[Problem], str]] = {}
"""Each live problem's SHA-256, made once: at 173,000 applications serialising takes seconds,
and what-if analyses fingerprint the same problem hundreds of times. Problems are immutable."""


def problem_digest(problem: Problem) -> str:
    """SHA-256 of the problem's JSON (pydantic's, in field order: the same problem, the same text)."""
    key = id(problem)
    known = _digests.get(key)
    if known is not None and known[0]() is problem:
        return known[1]
    digest = hashlib.sha256(problem.model_dump_json().encode()).hexdigest()
    _digests[key] = (weakref.ref(problem, lambda _: _digests.pop(key, None)), digest)
    return digest


def fingerprint(
    problem: Problem, weights: Weights, backend: str, options: SolverOptions, solver_version: str
) -> str:
    """SHA-256 of the canonical inputs, settings, and library and solver versions."""
    canonical = {
        "problem": problem_digest(problem),
        "weights": weights.model_dump(mode="json"),
        "backend": backend,
        "options": options.model_dump(mode="json", exclude={"verbose"}),
        "allocate": library_version(),
        "solver": solver_version,
    }
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def finish(
    problem: Problem,
    model: CompiledProblem,
    raw: RawSolution,
    w: Weights,
    backend: str,
    options: SolverOptions,
    *,
    diagnose: bool = True,
    started: float | None = None,
) -> Allocation:
    """Turn a backend's raw solution into a verified Allocation (or an infeasible one, explained).

    The diagnosis of an infeasible round shares options.time_limit with the solve begun at `started`.
    """
    info = SolverInfo(
        backend=backend,
        version=raw.version,
        seconds=raw.seconds,
        options=options,
        message=raw.message,
        extra=raw.extra,
    )
    stamp = fingerprint(problem, w, backend, options, raw.version)
    if raw.status == "infeasible":
        found = find_conflict(model, get_backend(backend), options, started) if diagnose else None
        groups, rows = (found.groups, found.rows) if found else ([], [])
        message = "No allocation meets every rule."
        if groups:
            message += f" These rules cannot all hold: {'; '.join(groups)} (rows: {', '.join(rows)})."
        if found and not found.irreducible:
            message += " (Not reduced to the smallest clashing set: some of these may not be needed.)"
        return Allocation(
            status="infeasible",
            conflict=tuple(rows or groups),
            message=message,
            weights=w,
            solver=info,
            fingerprint=stamp,
        )
    if raw.x is None:
        return Allocation(
            status="no_solution",
            message="The solver stopped before finding any allocation.",
            weights=w,
            solver=info,
            fingerprint=stamp,
        )
    return _allocation(problem, model, raw, w, info, stamp)


def _allocation(
    problem: Problem, model: CompiledProblem, raw: RawSolution, weights: Weights, info: SolverInfo, stamp: str
) -> Allocation:
    if raw.x is None:
        raise SolverError(f"backend {info.backend!r} reported {raw.status} without an allocation")
    x = raw.x[: model.n]
    if np.any(np.abs(x - np.round(x)) > 1e-4):
        raise SolverError(f"backend {info.backend!r} returned fractional awards")
    chosen = [model.candidates[j] for j in np.flatnonzero(x > 0.5)]
    check = verify(problem, [(c.application.id, c.variant_id) for c in chosen], weights=weights)
    if not check.ok:
        raise VerificationError(
            f"backend {info.backend!r} returned an allocation that breaks the rules: "
            + "; ".join(check.violations[:5]),
            check.violations,
        )
    awards = []
    for c in chosen:
        vo, vs = candidate_value(problem, c, weights)
        awards.append(
            Award(
                application=c.application.id,
                variant=c.variant_id,
                organisation=c.organisation,
                amount=c.cost,
                profile=c.profile,
                value=vo + vs,
                value_outcome=vo,
                value_social=vs,
            )
        )
    value = check.value
    bound = raw.bound if raw.bound is not None and math.isfinite(raw.bound) else None
    if raw.status == "optimal" and bound is not None:
        bound = max(bound, value)
    gap = relative_gap(value, bound) if bound is not None else None
    report = tuple(
        RuleReport(
            label=c.label,
            sense=c.sense,
            achieved=c.achieved,
            limit=c.limit,
            slack=c.slack,
            binding=c.binding,
            ok=c.ok,
            unit=c.unit,
        )
        for c in check.checks
    )
    return Allocation(
        status=raw.status,
        awards=tuple(awards),
        total=check.total,
        value=value,
        value_outcome=check.value_outcome,
        value_social=check.value_social,
        bound=bound,
        gap=gap,
        rules_report=report,
        message="Proven optimal."
        if raw.status == "optimal"
        else f"Stopped early; best allocation found is within {gap:.4%} of the bound."
        if gap is not None
        else "Stopped early.",
        weights=weights,
        solver=info,
        verified=True,
        fingerprint=stamp,
    )
