"""Worker processes that stop at once when the run is interrupted, leaving nothing behind.

Ctrl-C at a terminal sends SIGINT to every process of the foreground group. Workers made by
`process_pool` ignore it (a worker interrupted while idle would print a traceback), so the
parent alone decides: leaving a `stopping` block with an exception (KeyboardInterrupt
included) cancels the tasks not started and ends the workers at once instead of waiting for
every running solve. A worker is asked with SIGTERM first, which it turns into SystemExit so
that its cleanup runs; one still inside a solver call after `GRACE` seconds (HiGHS, CP-SAT:
nothing on disk) is killed.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")

GRACE = 2.0
"""Seconds a worker has to clean up after SIGTERM before it is killed."""


def process_pool(max_workers: int) -> ProcessPoolExecutor:
    """A pool of worker processes started with "spawn" that leave Ctrl-C to the parent.

    "spawn", not Linux's default "fork": forking a process whose solver (HiGHS) has already
    started its thread pool deadlocks the children.
    """
    return _Pool(
        max_workers=max_workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_signals
    )


class _Pool(ProcessPoolExecutor):
    """Workers start with SIGINT blocked (inherited through exec), so a Ctrl-C while one is still
    importing cannot print a traceback; here the signal stays pending, never lost."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks
            return super().submit(fn, *args, **kwargs)
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            return super().submit(fn, *args, **kwargs)  # starts a worker if one is missing
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _worker_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit)


def _exit(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(128 + signum)


@contextmanager
def stopping(pool: ProcessPoolExecutor) -> Iterator[ProcessPoolExecutor]:
    """Shut `pool` down on leaving: normally once its tasks are done; at once on an exception."""
    try:
        yield pool
    except BaseException:
        stop(pool)
        raise
    pool.shutdown(cancel_futures=True)


def stop(pool: ProcessPoolExecutor) -> None:
    """Cancel the tasks not started and end the workers now (SIGTERM, then SIGKILL after `GRACE`)."""
    # ProcessPoolExecutor has no public way to end its workers before Python 3.14
    # (terminate_workers), so its private process table is read here.
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in workers:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + GRACE
    for p in workers:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in workers:
        if p.is_alive():
            p.kill()
            p.join()
