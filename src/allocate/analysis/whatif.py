"""What-if sweeps: solve many weightings, reusing one compiled model per worker.

Only the objective changes between weightings, so each worker compiles the problem once,
loads it into one solver session, and re-solves with new objective coefficients, warm-started
from the previous allocation. Work goes through any `concurrent.futures.Executor` (a process
pool by default); a Dask ``distributed`` client's ``get_executor()`` works unchanged.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed

import numpy as np

from allocate.backends import DEFAULT_BACKEND, get_backend
from allocate.compile import compile_problem
from allocate.finish import finish
from allocate.model import Problem, Weights
from allocate.options import SolverOptions
from allocate.result import Allocation

Progress = Callable[[int, int], None]
"""Called as progress(done, total) each time a batch of weightings finishes."""


def as_weights(problem: Problem, w: Weights | float) -> Weights:
    """A Weights from a Weights or a bare social value share (other fields from the problem)."""
    if isinstance(w, Weights):
        return w
    return Weights(**{**problem.weights.model_dump(), "social_value_share": float(w)})


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
) -> list[Allocation]:
    """Solve the problem under each weighting; results in the order of `weights`.

    A bare float is a social value share. Weightings are split into contiguous batches
    (default: one per CPU); each batch is one task. With ``executor=None`` a process pool
    (start method "spawn") is created and shut down here. The split is deterministic, so the
    same call returns the same allocations, ties included.
    """
    ws = [as_weights(problem, w) for w in weights]
    if not ws:
        return []
    opts = SolverOptions() if options is None else options
    workers = os.cpu_count() or 1
    size = batch_size or max(1, math.ceil(len(ws) / workers))
    batches = [ws[i : i + size] for i in range(0, len(ws), size)]
    owned = executor is None
    # "spawn", not Linux's default "fork": forking a process whose solver (HiGHS) has already
    # started its thread pool deadlocks the children.
    pool: Executor = (
        ProcessPoolExecutor(
            max_workers=min(workers, len(batches)), mp_context=multiprocessing.get_context("spawn")
        )
        if executor is None
        else executor
    )
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
                progress(done, len(ws))
    finally:
        if owned:
            pool.shutdown()
    return [a for batch in results for a in batch]
