"""Docs that run: every Python block and shell command in README.md and docs/*.md, as a user pastes them.

Each markdown file is one session: its ```python blocks, in order, become one script run with
this interpreter (so `if __name__ == "__main__":` guards and spawned process pools behave as
they do for a user; walkthroughs in `SESSION` as pasted into an interactive session), and each command of its ```bash blocks runs in a shell first. Both run in a
fresh folder holding a link to ``examples/``, so files the docs write land there. A block whose
fence says ``no-run`` (```` ```bash no-run ````: set-up, benchmarks that take minutes,
signatures) is skipped; files whose examples take more than a few seconds are marked slow.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EAST_SUSSEX = (
    "from allocate import solve\n"
    "from allocate.scenarios import east_sussex_2011\n"
    "problem = east_sussex_2011()\n"
    "allocation = solve(problem)\n"
)
"""The README's analysis block runs on this round too, not only on its two-bid example."""
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SLOW = {"analysis.md", "scenarios.md", "engine.md"}
"""Files whose examples solve the East Sussex reference round many times (frontier, robustness, ...)."""
SESSION: set[str] = set()
"""Walkthroughs pasted into one interactive session (the script comes in on stdin); the others,
analysis.md included, are pasted into a script file with no ``__main__`` guard."""
HANG_GUARD = 1800.0
"""Seconds before a file's examples are stopped as hung (a guard, not a performance check)."""

_SESSION = "import sys; exec(compile(sys.stdin.read(), '<session>', 'exec'))"
"""Run code read from stdin as an interactive session does: a main module without a file."""
_FENCE = re.compile(r"^```([\w-]*)([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    language: str
    flags: tuple[str, ...]
    code: str
    line: int


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a markdown file, with their language, flags and first line."""
    text = path.read_text(encoding="utf-8")
    return [
        Block(m.group(1).lower(), tuple(m.group(2).split()), m.group(3), text.count("\n", 0, m.start()) + 2)
        for m in _FENCE.finditer(text)
    ]


def commands(code: str) -> list[str]:
    """The shell commands of a block: continuation lines joined, comments and blank lines left out."""
    joined = re.sub(r"\s*\\\n\s*", " ", code)
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def test_fences_parse() -> None:
    """The parser finds blocks, flags and continuation lines (so that the doc tests can fail)."""
    sample = ROOT / "README.md"
    found = blocks(sample)
    assert any(b.language == "python" for b in found)
    assert all(b.code.strip() for b in found)
    assert commands("allocate solve a.xlsx \\\n  --out b.csv\n# note\n\nallocate demo\n") == [
        "allocate solve a.xlsx --out b.csv",
        "allocate demo",
    ]


@pytest.mark.parametrize(
    "doc",
    [pytest.param(p, id=p.name, marks=[pytest.mark.slow] if p.name in SLOW else []) for p in DOCS],
)
def test_documented_examples_run(doc: Path, tmp_path: Path) -> None:
    runnable = [b for b in blocks(doc) if "no-run" not in b.flags]
    python = [b for b in runnable if b.language == "python"]
    shell = [
        c for b in runnable if b.language in ("bash", "sh", "shell", "console") for c in commands(b.code)
    ]
    if not python and not shell:
        pytest.skip(f"{doc.name} has no runnable examples")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONWARNINGS", None)
    for command in shell:
        run = subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=HANG_GUARD
        )
        assert run.returncode == 0, f"{doc.name}: `{command}` exited {run.returncode}:\n{run.stderr[-3000:]}"
    if python:
        script = tmp_path / f"doc_{doc.stem.lower()}.py"
        script.write_text(
            "\n".join(f"print('### {doc.name} line {b.line}', flush=True)\n{b.code}" for b in python),
            encoding="utf-8",
        )
        session = doc.name in SESSION
        run = subprocess.run(
            [
                sys.executable,
                "-W",
                "error::DeprecationWarning",
                *(["-c", _SESSION] if session else [script.name]),
            ],
            input=script.read_text(encoding="utf-8") if session else None,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=HANG_GUARD,
        )
        where = re.findall(r"### (.*)", run.stdout)
        assert run.returncode == 0, (
            f"{doc.name}: the Python block at {where[-1] if where else 'the start'} failed:\n{run.stderr[-3000:]}"
        )


@pytest.mark.slow
@pytest.mark.parametrize("how", ["file", "stdin"])
def test_readme_analysis_block_runs_on_east_sussex(how: str, tmp_path: Path) -> None:
    """The README's what-if block as pasted, on the 173-bid reference round, from a script file
    with no ``__main__`` guard and piped to ``python -``: it runs once, whatever the executor."""
    block = next(b for b in blocks(ROOT / "README.md") if b.language == "python" and "sweep(" in b.code)
    code = EAST_SUSSEX + "print('### start', flush=True)\n" + block.code
    script = tmp_path / "what_if.py"
    script.write_text(code, encoding="utf-8")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    run = subprocess.run(
        [sys.executable, script.name] if how == "file" else [sys.executable, "-"],
        input=None if how == "file" else code,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("### start") == 1
