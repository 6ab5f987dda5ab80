"""The analyses run wherever they are typed (issue 26).

With ``executor=None`` every analysis fans its solves out over a pool of threads in this
process, so the same code works, unchanged and without a ``__main__`` guard, from a script
file, ``python -``, ``python -c``, a non-main thread, a worker of someone else's process or
thread pool, and a Jupyter kernel. Each context runs in a subprocess on the East Sussex round
(173 bids, large enough for the thread pool: `POOL_MIN_CANDIDATES`) with a small workload;
between them every analysis (sweep, frontier, explain, robustness, price_of_rules, moderate,
whatif_page, diagnose) runs at least once. Every subprocess must exit 0, print the answers
the same analysis (or plain `solve` calls) gives in this process, and run its body exactly
once (a marker counted in stdout: a spawned re-import of the script would print it again).

Also: executors the user passes (a spawn process pool, loky, a Dask cluster) give the default's
answers, and `solve` called from 8 threads at once gives exactly the answers of a serial loop.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from allocate import (
    BACKENDS,
    Allocation,
    Problem,
    Weights,
    explain,
    moderate,
    robustness,
    solve,
    sweep,
)
from allocate.analysis.workers import Serial
from allocate.scenarios import east_sussex_2011

TIMEOUT = 180
"""Seconds a subprocess may take before the test fails (each takes a few seconds)."""

MARKER = "BODY-RAN"
SHARES = (0.1, 0.3)

# -- the code a user types: the same body in every context ----------------------------------

HEAD = """\
import json
from allocate import (
    diagnose, explain, frontier, moderate, price_of_rules, robustness, solve, sweep, whatif_page,
)
from allocate.scenarios import east_sussex_2011


def funded(a):
    return sorted([x.application, x.variant] for x in a.awards)


def pass_mark_only(p):
    return p.replace(rules=tuple(r for r in p.rules if type(r).__name__ == "PassMark"))


def body():
    print("BODY-RAN", flush=True)
    p = east_sussex_2011()
    out = []

    def emit(name, value):
        out.append("RESULT " + name + " " + json.dumps(value))

"""

WORKLOADS = {
    "sweep": """\
for share, a in zip((0.1, 0.3), sweep(p, [0.1, 0.3])):
    emit("sweep-" + str(share), [a.status, a.value, funded(a)])
""",
    "frontier": """\
f = frontier(pass_mark_only(p))
first, last = f.points[0], f.points[-1]
emit("frontier", [first.share_low, first.outcome, funded(first.allocation), last.share_high, last.social])
""",
    "explain": """\
a = solve(p)
chosen = {x.application for x in a.awards}
ids = [next(x.id for x in p.applications if x.id in chosen), next(x.id for x in p.applications if x.id not in chosen)]
emit("explain", [[e.application, e.funded, e.margin] for e in explain(p, a, applications=ids).items])
""",
    "robustness": """\
emit("robustness", sorted(robustness(p, samples=4).probability.items()))
""",
    "price_of_rules": """\
(rp,) = price_of_rules(p, rules=[0])
emit("price_of_rules", [rp.value_with, rp.value_without, rp.price])
""",
    "moderate": """\
m = moderate(p)
emit("moderate", [m.raw.value, m.moderated.value, funded(m.moderated)])
""",
    "whatif_page": """\
html = whatif_page(pass_mark_only(p), steps=20)
emit("whatif_page", ["<html" in html.lower(), "different allocations are optimal" in html, len(html)])
""",
    "diagnose": """\
d = diagnose(east_sussex_2011(setting="infeasible"))
emit("diagnose", [d.feasible, list(d.rules), len(d.relaxation)])
""",
}


def body_module(workloads: tuple[str, ...]) -> str:
    """Source defining ``body()``: prints the marker once, runs `workloads`, returns RESULT lines."""
    code = "".join(WORKLOADS[w] for w in workloads)
    return HEAD + textwrap.indent(code, "    ") + "    return out\n"


def script(workloads: tuple[str, ...]) -> str:
    """A plain script, no ``__main__`` guard."""
    return body_module(workloads) + "\nfor line in body():\n    print(line)\n"


THREAD_DRIVER = """
import threading

lines, errors = [], []


def target():
    try:
        lines.extend(body())
    except BaseException as exc:
        errors.append(repr(exc))
        raise


t = threading.Thread(target=target, name="not-main")
t.start()
t.join()
for line in lines:
    print(line)
if errors:
    raise SystemExit("failed in the thread: " + errors[0])
"""

THREAD_POOL_DRIVER = """
from concurrent.futures import ThreadPoolExecutor

with ThreadPoolExecutor(2) as pool:
    lines = pool.submit(body).result()
for line in lines:
    print(line)
"""

# The user's own spawn pool needs the user's own guard (spawn re-imports the script); the
# analysis inside the worker needs nothing. The body lives in an importable module.
PROCESS_POOL_DRIVER = """
if __name__ == "__main__":
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import anywhere_job

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        lines = pool.submit(anywhere_job.body).result()
    for line in lines:
        print(line)
"""

# multiprocessing.Pool's workers are daemonic: they may not start processes of their own.
MP_POOL_DRIVER = """
if __name__ == "__main__":
    import multiprocessing

    import anywhere_job

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        lines = pool.apply(anywhere_job.body)
    for line in lines:
        print(line)
"""


def run(
    args: list[str], cwd: Path, *, stdin: str | None = None, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(pythonpath), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        args, input=stdin, capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd, env=env, check=False
    )


def results(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The RESULT lines printed, by name (each name once); the run exited 0 with the body run once."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count(MARKER) == 1, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    out: dict[str, Any] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            _, name, value = line.split(" ", 2)
            assert name not in out, f"{name} printed twice"
            out[name] = json.loads(value)
    return out


# -- what the same analyses give in this process ------------------------------------------


@functools.cache
def es() -> Problem:
    return east_sussex_2011()


def pass_mark_only(p: Problem) -> Problem:
    return p.replace(rules=tuple(r for r in p.rules if type(r).__name__ == "PassMark"))


def at_share(p: Problem, share: float) -> Weights:
    return p.weights.model_copy(update={"social_value_share": share})


def funded(a: Allocation) -> list[list[Any]]:
    return sorted([x.application, x.variant] for x in a.awards)


@functools.cache
def solved(p: Problem, share: float | None = None) -> Allocation:
    a = solve(p) if share is None else solve(p, weights=at_share(p, share))
    assert a.verified
    return a


def check(name: str, got: Any) -> None:
    """`got` (printed by a subprocess) is what this process finds for analysis `name`."""
    p = es()
    if name.startswith("sweep-"):
        a = solved(p, float(name.removeprefix("sweep-")))
        assert got[0] == a.status == "optimal"
        assert got[1] == pytest.approx(a.value, rel=1e-9)
        assert got[2] == funded(a)
    elif name == "frontier":
        q = pass_mark_only(p)
        zero, one = solved(q, 0.0), solved(q, 1.0)
        share_low, outcome, first, share_high, social = got
        assert share_low == 0.0 and share_high == 1.0
        assert outcome == pytest.approx(zero.value, rel=1e-9)  # at share 0 value is the outcome part
        assert first == funded(zero)
        assert social == pytest.approx(one.value, rel=1e-9)
    elif name == "explain":
        ids = [item[0] for item in got]
        want = explain(p, solved(p), applications=ids, executor=Serial()).items
        assert [(e.application, e.funded) for e in want] == [(i[0], i[1]) for i in got]
        assert [i[1] for i in got] == [True, False]
        for e, item in zip(want, got, strict=True):
            assert item[2] == (None if e.margin is None else pytest.approx(e.margin, rel=1e-9, abs=1e-6))
    elif name == "robustness":
        want = robustness(p, samples=4, executor=Serial()).probability
        assert dict((k, v) for k, v in got) == want
    elif name == "price_of_rules":
        with_, without = solved(p), solved(p.replace(rules=p.rules[1:]))
        assert got[0] == pytest.approx(with_.value, rel=1e-9)
        assert got[1] == pytest.approx(without.value, rel=1e-9)
        assert got[2] == pytest.approx(without.value - with_.value, rel=1e-6, abs=1e-6)
    elif name == "moderate":
        moderated = solved(moderate(p, allocations=False).problem)
        assert got[0] == pytest.approx(solved(p).value, rel=1e-9)
        assert got[1] == pytest.approx(moderated.value, rel=1e-9)
        assert got[2] == funded(moderated)
    elif name == "whatif_page":
        assert got[0] is True and got[1] is True and got[2] > 10_000
    elif name == "diagnose":
        feasible, rules, relaxations = got
        assert feasible is False
        assert "Coverage[district=Wealden]" in rules  # the designed clash: Wealden's floor vs the band
        assert relaxations >= 1
    else:  # pragma: no cover
        raise AssertionError(f"unknown result {name}")


def check_all(proc: subprocess.CompletedProcess[str], workloads: tuple[str, ...]) -> None:
    got = results(proc)
    names = [n for w in workloads for n in ([f"sweep-{s}" for s in SHARES] if w == "sweep" else [w])]
    assert sorted(got) == sorted(names), proc.stdout
    for name in names:
        check(name, got[name])


# -- (a)-(f): the contexts --------------------------------------------------------------------


def test_a_script_file_without_a_main_guard(tmp_path: Path) -> None:
    workloads = ("sweep", "frontier")
    path = tmp_path / "plain_script.py"
    path.write_text(script(workloads), encoding="utf-8")
    check_all(run([sys.executable, str(path)], tmp_path), workloads)


def test_b_piped_to_python_stdin(tmp_path: Path) -> None:
    workloads = ("sweep", "explain")
    check_all(run([sys.executable, "-"], tmp_path, stdin=script(workloads)), workloads)


def test_c_python_dash_c(tmp_path: Path) -> None:
    workloads = ("sweep", "price_of_rules", "moderate")
    check_all(run([sys.executable, "-c", script(workloads)], tmp_path), workloads)


def test_d_inside_a_non_main_thread(tmp_path: Path) -> None:
    workloads = ("sweep", "whatif_page")
    code = body_module(workloads) + THREAD_DRIVER
    check_all(run([sys.executable, "-c", code], tmp_path), workloads)


def test_e_inside_a_worker_of_a_spawn_process_pool(tmp_path: Path) -> None:
    workloads = ("sweep", "robustness")
    (tmp_path / "anywhere_job.py").write_text(body_module(workloads), encoding="utf-8")
    driver = tmp_path / "driver.py"
    driver.write_text(PROCESS_POOL_DRIVER, encoding="utf-8")
    check_all(run([sys.executable, str(driver)], tmp_path, pythonpath=tmp_path), workloads)


def test_e_inside_a_daemonic_multiprocessing_pool_worker(tmp_path: Path) -> None:
    workloads = ("sweep",)
    (tmp_path / "anywhere_job.py").write_text(body_module(workloads), encoding="utf-8")
    driver = tmp_path / "driver.py"
    driver.write_text(MP_POOL_DRIVER, encoding="utf-8")
    check_all(run([sys.executable, str(driver)], tmp_path, pythonpath=tmp_path), workloads)


def test_e_inside_a_thread_pool_worker(tmp_path: Path) -> None:
    workloads = ("diagnose",)
    code = body_module(workloads) + THREAD_POOL_DRIVER
    check_all(run([sys.executable, "-c", code], tmp_path), workloads)


def test_f_inside_a_jupyter_kernel(tmp_path: Path) -> None:
    pytest.importorskip("ipykernel")
    manager = pytest.importorskip("jupyter_client.manager")
    workloads = ("sweep", "frontier")
    km, kc = manager.start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    stdout: list[str] = []
    errors: list[str] = []

    def collect(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            stdout.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            errors.append("\n".join(msg["content"]["traceback"]))

    try:
        reply = kc.execute_interactive(script(workloads), timeout=TIMEOUT, output_hook=collect)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok", errors
    proc = subprocess.CompletedProcess(["kernel"], 0, "".join(stdout), "\n".join(errors))
    check_all(proc, workloads)


# -- executors the user passes -----------------------------------------------------------------

SWEEP_ON_A_SPAWN_POOL = """
if __name__ == "__main__":
    import json
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from allocate import sweep
    from allocate.scenarios import east_sussex_2011

    print("BODY-RAN", flush=True)
    p = east_sussex_2011()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        out = sweep(p, [0.1, 0.3], executor=pool)
    for share, a in zip((0.1, 0.3), out):
        funded = sorted([x.application, x.variant] for x in a.awards)
        print("RESULT sweep-" + str(share) + " " + json.dumps([a.status, a.value, funded]))
"""


def test_a_spawn_process_pool_the_user_passes_gives_the_default_answer(tmp_path: Path) -> None:
    path = tmp_path / "guarded.py"
    path.write_text(SWEEP_ON_A_SPAWN_POOL, encoding="utf-8")
    check_all(run([sys.executable, str(path)], tmp_path), ("sweep",))


def _check_sweep_on(executor: Any) -> None:
    p = es()
    for share, a in zip(SHARES, sweep(p, list(SHARES), executor=executor), strict=True):
        check(f"sweep-{share}", [a.status, a.value, funded(a)])


def test_loky_executor_gives_the_default_answer() -> None:
    loky = pytest.importorskip("loky")
    executor = loky.get_reusable_executor(max_workers=2)
    try:
        _check_sweep_on(executor)
    finally:
        executor.shutdown(wait=True)


def test_dask_executor_gives_the_default_answer() -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        _check_sweep_on(client.get_executor())


# -- solve from many threads at once ---------------------------------------------------------------


def _answer(a: Allocation) -> tuple[str, float, frozenset[tuple[str, str | None]], bool]:
    return a.status, a.value, frozenset((x.application, x.variant) for x in a.awards), a.verified


@pytest.mark.parametrize("backend", BACKENDS)
def test_solve_from_eight_threads_at_once_gives_the_serial_answers(backend: str) -> None:
    p = es()
    rounds = [p, p.replace(weights=at_share(p, 0.0)), p.replace(weights=at_share(p, 1.0))]
    serial = [_answer(solve(r, backend)) for r in rounds]
    assert all(s[0] == "optimal" and s[3] for s in serial)
    assert len({s[2] for s in serial}) == len(rounds)  # the weights make different rounds
    jobs = [k % len(rounds) for k in range(8)]
    with ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(lambda k: _answer(solve(rounds[k], backend)), jobs))
    assert threaded == [serial[k] for k in jobs]
