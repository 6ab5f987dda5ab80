"""Command line: sweep (with progress bar) and bench."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocate.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "small_round.xlsx"


def test_sweep_writes_one_row_per_share(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep.csv"
    assert main(["sweep", str(EXAMPLE), "--steps", "3", "--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("share,status")
    assert [line.split(",")[0] for line in lines[1:]] == ["0.0", "0.5", "1.0"]
    assert all(line.split(",")[1] == "optimal" for line in lines[1:])
    assert "value by social value share" in capsys.readouterr().out


def test_sweep_needs_exactly_one_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep"]) == 2
    assert "PROBLEM or --demo" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_runs_every_backend_and_greedy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--time-limit", "10"]) == 0
    out = capsys.readouterr().out
    for name in ("cbc", "highs", "cpsat", "greedy"):
        assert f"\n{name}" in out
