"""What-if sweeps: solve many weightings, reusing one compiled model per worker.

Only the objective changes between weightings, so each worker compiles the problem once,
loads it into one solver session, and re-solves with new objective coefficients, warm-started
from the previous allocation. Work goes through any `concurrent.futures.Executor` (a process
pool by default); a Dask ``distributed`` client's ``get_executor()`` works unchanged.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from typing import Literal

import numpy as np

from allocate.analysis.frontier import frontier
from allocate.analysis.workers import Progress, executor_for
from allocate.domain.errors import InvalidProblemError
from allocate.domain.model import Problem
from allocate.domain.parts import Weights, as_weights
from allocate.engine.backends import DEFAULT_BACKEND, get_backend
from allocate.engine.backends.base import RawSolution
from allocate.engine.compile import CompiledProblem, compile_problem
from allocate.engine.finish import finish
from allocate.engine.options import SolverOptions
from allocate.engine.processes import process_pool, stop
from allocate.engine.result import Allocation
from allocate.engine.solve import solve

FRONTIER_FROM = 24
"""With ``method="auto"``, sweeps of at least this many shares of one weighting family are read
off the exact frontier (about two solves per distinct allocation) instead of solved one by one."""

TIE_MARGIN = 1e-6
"""Relative value gap under which two frontier allocations count as tied at a share (the what-if
page's rule, `analysis.share_map`)."""

READ_OFF_MARGIN = 1e-9
"""Relative value gap under which `sweep` counts two frontier allocations as tied at a share and
solves that share directly: the frontier's own tolerance (`frontier.REL_TOL`), far above CP-SAT's
objective resolution (2^-50), and far below the gap between distinct frontier neighbours, which
may differ by a few units of value (two small grants swapped) over a whole interval: with 1e-6,
a 1,000-share sweep of East Sussex spent most of its time solving such shares."""


def solve_batch(
    problem: Problem, weights: Sequence[Weights], backend: str, options: SolverOptions
) -> list[Allocation]:
    """Solve several weightings in this process with one compile and one solver session."""
    model = compile_problem(problem)
    session = get_backend(backend).prepare(model)
    out: list[Allocation] = []
    hint: np.ndarray | None = None
    for w in weights:
        outcome, social = model.objective(w)
        raw = session.solve(outcome + social, options, hint)
        out.append(finish(problem, model, raw, w, backend, options))
        if raw.x is not None:
            hint = np.round(raw.x)
    return out


def sweep(
    problem: Problem,
    weights: Sequence[Weights | float],
    backend: str = DEFAULT_BACKEND,
    *,
    options: SolverOptions | None = None,
    executor: Executor | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
    method: Literal["auto", "frontier", "solve"] = "auto",
) -> list[Allocation]:
    """Solve the problem under each weighting; results in the order of `weights`.

    A bare float is a social value share. ``method="frontier"`` (and ``"auto"`` for at least
    `FRONTIER_FROM` weightings that differ only in their social value share) computes the exact
    frontier once and reads each share's optimum off it: the allocation whose interval contains
    the share. A share where two frontier allocations tie (a breakpoint, within `READ_OFF_MARGIN`) or
    at either end (0 or 1, where allocations equal on the one part that counts tie) is solved
    directly, so every answer is the one ``solve(problem, weights=...)`` gives; every allocation
    is verified. ``method="solve"`` solves each weighting: weightings are split into contiguous
    batches (default: one per CPU), each batch one task re-solving one loaded model. With
    ``executor=None`` a process pool (start method "spawn") is created and shut down here. The
    split is deterministic, so the same call returns the same allocations, ties included.
    """
    ws = [as_weights(problem, w) for w in weights]
    if not ws:
        return []
    opts = SolverOptions() if options is None else options
    if method not in ("auto", "frontier", "solve"):
        raise InvalidProblemError(
            ("sweep", "method"), f"must be 'auto', 'frontier' or 'solve', not {method!r}"
        )
    if batch_size is not None and batch_size < 1:
        raise InvalidProblemError(("sweep", "batch_size"), f"must be at least 1, not {batch_size!r}")
    family = len({_rest(w) for w in ws}) == 1
    if method == "frontier" and not family:
        raise InvalidProblemError(
            ("sweep", "method"), "'frontier' needs weightings that differ only in social_value_share"
        )
    if method == "frontier" and opts.relative_gap > 0:
        raise InvalidProblemError(
            ("sweep", "method"), "'frontier' reads exact optima off the frontier: it needs relative_gap=0"
        )
    exact = opts.relative_gap == 0
    if method == "frontier" or (method == "auto" and family and exact and len(ws) >= FRONTIER_FROM):
        read = _from_frontier(problem, ws, backend, opts, executor, progress)
        if read is not None:
            return read
    return _solve_each(problem, ws, backend, opts, executor, batch_size, progress)


def _rest(w: Weights) -> str:
    """Everything about a weighting but its social value share (its family)."""
    return w.model_copy(update={"social_value_share": 0.0}).model_dump_json()


def _solve_each(
    problem: Problem,
    ws: list[Weights],
    backend: str,
    opts: SolverOptions,
    executor: Executor | None,
    batch_size: int | None,
    progress: Progress | None,
    offset: int = 0,
    total: int | None = None,
) -> list[Allocation]:
    """Solve each weighting, in batches submitted to `executor` (see `sweep`)."""
    if not ws:
        return []
    workers = os.cpu_count() or 1
    size = batch_size or max(1, math.ceil(len(ws) / workers))
    batches = [ws[i : i + size] for i in range(0, len(ws), size)]
    owned = executor is None
    pool: Executor = process_pool(min(workers, len(batches))) if executor is None else executor
    try:
        futures: dict[Future[list[Allocation]], int] = {
            pool.submit(solve_batch, problem, batch, backend, opts): i for i, batch in enumerate(batches)
        }
        results: list[list[Allocation]] = [[] for _ in batches]
        done = 0
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            done += len(results[futures[fut]])
            if progress is not None:
                progress(offset + done, len(ws) + offset if total is None else total)
    except BaseException:
        if isinstance(pool, ProcessPoolExecutor) and owned:
            stop(pool)  # at once: a failed or interrupted sweep does not wait for every solve
        raise
    if owned:
        pool.shutdown()
    return [a for batch in results for a in batch]


def _from_frontier(
    problem: Problem,
    ws: list[Weights],
    backend: str,
    opts: SolverOptions,
    executor: Executor | None,
    progress: Progress | None,
) -> list[Allocation] | None:
    """Read each share's optimum off the exact frontier; solve the tied shares directly.

    None when a frontier solve stopped short of a proven optimum (a time limit): its points
    then prove nothing about the shares between them, so the caller solves each share.
    """
    base = ws[0].model_copy(update={"social_value_share": problem.weights.social_value_share})
    round_ = problem if base == problem.weights else problem.replace(weights=base)
    found = 0

    def on_frontier(done: int, total: int) -> None:
        nonlocal found
        found = total
        if progress is not None:
            progress(done, total + len(ws))

    front = frontier(round_, backend, options=opts, executor=executor, progress=on_frontier)
    if any(p.allocation.status != "optimal" for p in front.points):
        return None
    model = compile_problem(problem)
    index = {(c.application.id, c.variant_id): j for j, c in enumerate(model.candidates)}
    O_ = np.array([p.outcome for p in front.points])
    S_ = np.array([p.social for p in front.points])
    out: list[Allocation | None] = [None] * len(ws)
    direct: list[int] = []
    for i, w in enumerate(ws):
        share = w.social_value_share
        values = (1 - share) * O_ + share * S_
        order = np.argsort(-values, kind="stable")
        best = float(values[order[0]])
        tied = len(order) > 1 and best - float(values[order[1]]) <= READ_OFF_MARGIN * max(1.0, abs(best))
        if share in (0.0, 1.0) or tied:
            direct.append(i)
            continue
        point = front.points[int(order[0])]
        out[i] = _read_off(problem, model, index, point.allocation, w, backend, opts)
    # Tied shares are solved as `solve` solves them (no start from a neighbour, which could pick
    # the other of two tied allocations), so the answer is solve's own.
    with executor_for(executor, len(direct), model.n) as pool:
        futures = [pool.submit(solve, problem, backend, weights=ws[i], options=opts) for i in direct]
        for i, fut in zip(direct, futures, strict=True):
            out[i] = fut.result()
    if progress is not None:
        progress(found + len(ws), found + len(ws))
    return [a for a in out if a is not None]


def _read_off(
    problem: Problem,
    model: CompiledProblem,
    index: dict[tuple[str, str | None], int],
    point: Allocation,
    w: Weights,
    backend: str,
    opts: SolverOptions,
) -> Allocation:
    """A frontier allocation as the optimum at weighting `w`, verified like any solve's answer."""
    x = np.zeros(model.n_vars)
    for award in point.awards:
        x[index[(award.application, award.variant)]] = 1.0
    outcome, social = model.objective(w)
    value = float((outcome + social) @ x)
    raw = RawSolution(
        status="optimal",
        x=x,
        objective=value,
        bound=value,  # the frontier proves it: optimal over the whole interval holding this share
        solver=backend,
        version=point.solver.version if point.solver else "",
        seconds=0.0,
        message="optimal on the exact weight frontier",
    )
    return finish(problem, model, raw, w, backend, opts)
