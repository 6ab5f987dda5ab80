"""Stopping solves that are running: Ctrl-C, SIGTERM and failed analyses end them within a second.

A solver call holds no Python frame while it runs (CP-SAT and HiGHS release the GIL), so a
signal cannot reach it: Python runs signal handlers in the main thread between bytecodes only.
Two things make every solve stoppable:

* each running solve registers how to cancel it (`running`): CP-SAT's ``stop_search``,
  HiGHS's ``cancelSolve``; `halt` cancels them all, and solves that start while a halt is in
  force are cancelled at once;
* a solve made in the main thread runs in a helper thread while the main thread waits on it
  (`in_side_thread`), so Ctrl-C (KeyboardInterrupt) or the CLI's SIGTERM handler interrupts
  the wait, halts the solve and re-raises.

A halt is process-wide: it also stops solves other threads of the same process are making
(e.g. a second analysis in a notebook kernel). It lasts while the `halting` block that asked
for it unwinds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_cancels: dict[int, Callable[[], None]] = {}
_halts = 0
_next = 0


@contextmanager
def running(cancel: Callable[[], None]) -> Iterator[None]:
    """Register `cancel` for the solve made inside the block (called while a halt is in force)."""
    global _next
    with _lock:
        key = _next
        _next += 1
        _cancels[key] = cancel
    try:
        yield
    finally:
        with _lock:
            del _cancels[key]


def halted() -> bool:
    """Whether a halt is in force (a task about to start a solve may skip it)."""
    return _halts > 0


@contextmanager
def halting() -> Iterator[None]:
    """Cancel every running solve, and every solve started, until the block ends.

    Cancels are repeated every `POLL` seconds: a solver asked to stop in the instant before its
    search starts (CP-SAT makes its stoppable handle inside ``solve``) is asked again.
    """
    global _halts
    with _lock:
        _halts += 1
    done = threading.Event()

    def cancel_all() -> None:
        while True:
            with _lock:
                cancels = list(_cancels.values())
            for cancel in cancels:
                cancel()
            if done.wait(POLL):
                return

    canceller = threading.Thread(target=cancel_all, name="allocate-halt", daemon=True)
    canceller.start()
    try:
        yield
    finally:
        done.set()
        canceller.join()
        with _lock:
            _halts -= 1


POLL = 0.05
"""Seconds between the main thread's checks for a signal while a side thread solves."""


def in_side_thread(fn: Callable[[], T]) -> T:
    """`fn()`, run in a helper thread when called from the main thread, so signals reach the caller.

    On any exception in the waiting thread (KeyboardInterrupt, SystemExit from a SIGTERM handler)
    the solve is halted and joined before the exception propagates: nothing keeps running.
    """
    if threading.current_thread() is not threading.main_thread():
        return fn()
    box: list[T] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            box.append(fn())
        except BaseException as exc:  # handed to the waiting thread
            error.append(exc)

    side = threading.Thread(target=work, name="allocate-solve", daemon=True)
    side.start()
    try:
        while side.is_alive():
            side.join(POLL)
    except BaseException:
        with halting():
            side.join()
        raise
    if error:
        raise error[0]
    return box[0]
