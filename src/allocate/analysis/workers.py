"""Fan-out for the analyses: executors, progress callbacks and solver sessions kept per worker.

Every analysis that makes independent solves (sweep, frontier's sub-intervals, explain,
robustness, price_of_rules) submits tasks to a `concurrent.futures.Executor`. A task names its
round by a token (a digest of the problem, computed once by the caller) and carries the
problem itself; each worker thread compiles and loads a round once and keeps the session for
the next task of the same round (`session`), so a process pool or a Dask cluster pays the
compile and solver set-up once per worker, not once per task.

A task's answer depends only on its arguments (the model, objective, fixed variables and
starting allocation it is given), never on which worker ran it or what that worker ran before:
solver sessions clear their search between solves. The one thing a session keeps is the rows
that exclude an allocation a solver rounded past a rule's margin (rare; valid for every
objective, see `allocate.engine.backends.base.PinningSession`).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from allocate.domain.model import Problem
from allocate.engine.backends import get_backend
from allocate.engine.backends.base import Session
from allocate.engine.compile import CompiledProblem, compile_problem
from allocate.engine.processes import process_pool, stopping

T = TypeVar("T")

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` as solves finish (``total`` may grow while the frontier
search finds new intervals; ``done == total`` at the end)."""

POOL_MIN_CANDIDATES = 50
"""With ``executor=None``, rounds with fewer candidate awards are solved in this process: each of
their solves takes milliseconds, less than starting a worker process."""

_CACHED = 4
"""Rounds whose sessions a worker thread keeps (least recently used dropped first)."""

_local = threading.local()


def token(problem: Problem) -> str:
    """A digest that identifies a round across processes (the key of the workers' caches)."""
    return hashlib.sha256(problem.model_dump_json().encode()).hexdigest()


def session(key: str, problem: Problem, backend: str) -> tuple[CompiledProblem, Session]:
    """This thread's compiled model and loaded solver session of a round, made on first use."""
    cache: OrderedDict[tuple[str, str], tuple[CompiledProblem, Session]] | None = getattr(
        _local, "sessions", None
    )
    if cache is None:
        cache = _local.sessions = OrderedDict()
    found = cache.get((key, backend))
    if found is None:
        model = compile_problem(problem)
        found = (model, get_backend(backend).prepare(model))
        cache[(key, backend)] = found
        while len(cache) > _CACHED:
            cache.popitem(last=False)
    cache.move_to_end((key, backend))
    return found


class Serial(Executor):
    """Runs each task at once in this process (``executor=None`` on small rounds)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        fut: Future[T] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller by fut.result(), as a pool does
            fut.set_exception(exc)
        return fut


def workers() -> int:
    return os.cpu_count() or 1


@contextmanager
def executor_for(executor: Executor | None, tasks: int, candidates: int) -> Iterator[Executor]:
    """`executor`, or a default: a process pool ("spawn") for rounds worth it, else `Serial`.

    A pool made here is shut down on leaving, and its workers stopped at once if the block
    fails or is interrupted (`allocate.engine.processes`).
    """
    if executor is not None:
        yield executor
        return
    if tasks < 2 or workers() < 2 or candidates < POOL_MIN_CANDIDATES:
        yield Serial()
        return
    with stopping(process_pool(min(workers(), tasks))) as pool:
        yield pool


def chunks(items: list[T], parts: int) -> list[list[T]]:
    """`items` in at most `parts` contiguous, nearly equal, non-empty lists (a deterministic split)."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (i < extra)
        out.append(items[start:end])
        start = end
    return [c for c in out if c]


def start_from(model: CompiledProblem, awards: np.ndarray) -> np.ndarray:
    """A full starting point for a solver from 0/1 `awards` (one per candidate).

    The total awarded T is the awards' cost; each auxiliary binary (e.g. "organisation
    funded") takes the largest value its rows allow given the awards, so that a start whose
    awards meet every rule is a feasible start. A start only guides the search.
    """
    x = np.zeros(model.n_vars)
    x[: model.n] = awards[: model.n]
    if model.total_col is not None:
        x[model.total_col] = float(model.cost @ x[: model.n])
    aux = [k for k in range(model.n, model.n_vars) if k != model.total_col and model.integer[k]]
    if not aux:
        return x
    A = model.A.tocsc()
    rest = A @ x  # the aux columns are 0 in x, so this is each row's activity without them
    for k in aux:
        rows = A.indices[A.indptr[k] : A.indptr[k + 1]]
        coef = A.data[A.indptr[k] : A.indptr[k + 1]]
        # y <= (hi - rest) / a where a > 0, and y <= (rest - lo) / -a where a < 0.
        room = np.where(coef > 0, model.row_hi[rows] - rest[rows], rest[rows] - model.row_lo[rows]) / np.abs(
            coef
        )
        room = room[np.isfinite(room)]
        high = float(np.floor(room.min())) if len(room) else float(model.var_ub[k])
        x[k] = min(model.var_ub[k], max(model.var_lb[k], high))
    return x
