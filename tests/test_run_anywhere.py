"""The analyses run wherever a user types them (issue 26): an unguarded script, stdin, a thread,
a dead worker named, signals ending the CLI with 130/143 and no output file."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from allocate import AllocateError, WorkerError, frontier, solve, sweep
from allocate.scenarios import east_sussex_2011

SCRIPT = """
from allocate import sweep, solve
from allocate.scenarios import east_sussex_2011
print("### ran", flush=True)
p = east_sussex_2011()
runs = sweep(p, [0.1, 0.3])
print("values", [round(a.value, 6) for a in runs])
"""


@pytest.fixture(scope="module")
def east_sussex():
    return east_sussex_2011()


def _expected(problem) -> str:
    return str(
        [
            round(
                solve(problem, weights=problem.weights.model_copy(update={"social_value_share": s})).value, 6
            )
            for s in (0.1, 0.3)
        ]
    )


@pytest.mark.parametrize(
    "how", ["file", pytest.param("stdin", marks=pytest.mark.slow), pytest.param("-c", marks=pytest.mark.slow)]
)
def test_unguarded_analysis_runs_once_and_right(how: str, tmp_path: Path, east_sussex) -> None:
    script = tmp_path / "what_if.py"
    script.write_text(SCRIPT, encoding="utf-8")
    args = {"file": [script.name], "stdin": ["-"], "-c": ["-c", SCRIPT]}[how]
    run = subprocess.run(
        [sys.executable, *args],
        input=SCRIPT if how == "stdin" else None,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("### ran") == 1
    assert f"values {_expected(east_sussex)}" in run.stdout


@pytest.mark.slow
def test_frontier_in_a_non_main_thread_matches_the_main_thread(east_sussex) -> None:
    found: list[object] = []
    worker = threading.Thread(target=lambda: found.append(frontier(east_sussex)))
    worker.start()
    worker.join()
    assert len(found) == 1
    here = frontier(east_sussex)
    there = found[0]
    assert [p.allocation.funded for p in there.points] == [p.allocation.funded for p in here.points]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["cpsat", "highs"])
def test_solve_from_eight_threads_matches_a_serial_loop(backend: str, east_sussex) -> None:
    shares = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    rounds = [
        east_sussex.replace(weights=east_sussex.weights.model_copy(update={"social_value_share": s}))
        for s in shares
    ]
    serial = [solve(r, backend) for r in rounds]
    out: list[object] = [None] * len(rounds)

    def one(i: int) -> None:
        out[i] = solve(rounds[i], backend)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(rounds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [(a.funded, a.value) for a in out] == [(a.funded, a.value) for a in serial]  # type: ignore[union-attr]


def _die(*args: object) -> None:
    os._exit(9)


class _Dying(ProcessPoolExecutor):
    """A process pool whose workers die on their first task (as a worker killed for memory does)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        return super().submit(_die, *args, **kwargs)


def test_a_dead_worker_is_a_worker_error_naming_the_task(east_sussex) -> None:
    with (
        _Dying(2, mp_context=multiprocessing.get_context("spawn")) as pool,
        pytest.raises(WorkerError) as err,
    ):
        sweep(east_sussex, [0.1, 0.2, 0.3], method="solve", executor=pool)
    assert isinstance(err.value, AllocateError)
    assert "worker died" in str(err.value) and err.value.task.startswith("sweep task")


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_cli_stops_on_a_signal_with_its_code_and_no_file(sig: int, code: int, tmp_path: Path) -> None:
    out = tmp_path / "sweep.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "allocate", "sweep", "--demo", "--steps", "11", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(4.0)  # importing and the first solves
    assert proc.poll() is None, proc.communicate()
    sent = time.monotonic()
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=30)
    stopped = time.monotonic() - sent
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert not out.exists()
    assert stopped < 5.0, f"took {stopped:.1f} s to stop"  # a guard against a hang, not a timing test
