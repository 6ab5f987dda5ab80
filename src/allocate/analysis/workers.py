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
from concurrent.futures import BrokenExecutor, Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from allocate.domain.errors import WorkerError
from allocate.domain.model import Problem
from allocate.engine.backends import get_backend
from allocate.engine.backends.base import Session
from allocate.engine.backends.stop import halting
from allocate.engine.compile import CompiledProblem, compile_problem

T = TypeVar("T")

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` as solves finish (``total`` may grow while the frontier
search finds new intervals; ``done == total`` at the end)."""

POOL_MIN_CANDIDATES = 50
"""With ``executor=None``, rounds with fewer candidate awards are solved one task after another:
each of their solves takes milliseconds, less than handing it to another thread."""

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


class Tasks(Executor):
    """An executor that names each task it is given, so a worker lost mid-task can be named."""

    def __init__(self, inner: Executor, what: str) -> None:
        self.inner, self.what = inner, what
        self.names: dict[Future[Any], str] = {}

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        fut = self.inner.submit(fn, *args, **kwargs)
        self.names[fut] = f"{self.what} task {len(self.names) + 1}"
        return fut

    def lost(self, exc: BaseException) -> WorkerError | None:
        """The WorkerError for `exc` if it says a worker died (process pool, loky, Dask); else None."""
        if not _worker_died(exc):
            return None
        task = next(
            (
                n
                for f, n in self.names.items()
                if f.done() and not f.cancelled() and _worker_died(f.exception())
            ),
            next((n for f, n in self.names.items() if not f.done()), f"a {self.what} task"),
        )
        return WorkerError(
            f"a worker died (killed, or out of memory) while running {task} of {len(self.names)}: "
            f"{type(exc).__name__}: {exc}; no partial result is returned",
            task,
        )


def _worker_died(exc: BaseException | None) -> bool:
    # BrokenExecutor: concurrent.futures' process pool and loky; KilledWorker: dask.distributed.
    return isinstance(exc, BrokenExecutor) or type(exc).__name__ in ("KilledWorker", "TerminatedWorkerError")


@contextmanager
def executor_for(
    executor: Executor | None, tasks: int, candidates: int, what: str = "analysis"
) -> Iterator[Executor]:
    """`executor`, or a default: a pool of threads in this process for rounds worth it, else `Serial`.

    Threads, not processes: CP-SAT and HiGHS release the GIL while they solve (2 threads solve
    East Sussex twice as fast as one with CP-SAT, 1.4x with HiGHS, which uses 2 threads of its
    own), and nothing is re-imported, so the default works in a script without a ``__main__``
    guard, ``python -``, a notebook, a non-main thread or another pool's worker. Each thread
    keeps its own solver sessions (`session`). If the block fails or is interrupted, running
    solves are stopped (`allocate.engine.backends.stop`), tasks not started are cancelled, and the
    threads are joined before the exception propagates. A worker of a given executor that dies
    raises WorkerError naming the task.
    """
    if executor is None and (tasks < 2 or workers() < 2 or candidates < POOL_MIN_CANDIDATES):
        executor = Serial()
    pool = (
        ThreadPoolExecutor(min(workers(), tasks), thread_name_prefix="allocate") if executor is None else None
    )
    named = Tasks(pool if pool is not None else executor, what)  # type: ignore[arg-type]
    try:
        yield named
    except BaseException as exc:
        if pool is not None:
            with halting():
                pool.shutdown(wait=True, cancel_futures=True)
        lost = named.lost(exc)
        if lost is not None:
            raise lost from exc
        raise
    if pool is not None:
        pool.shutdown()


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
