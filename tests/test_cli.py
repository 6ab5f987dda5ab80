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
    for name in ("highs", "cpsat", "greedy"):
        assert f"\n{name}" in out


def _round_file(tmp_path: Path, infeasible: bool) -> Path:
    from allocate import Coverage, OrganisationCap
    from allocate.io import read_problem

    problem = read_problem(EXAMPLE)
    if infeasible:
        rules = (*problem.rules, OrganisationCap(max_awards=0), Coverage(over="client_group", min_count=1))
        problem = problem.replace(rules=rules)
    path = tmp_path / "round.json"
    path.write_text(problem.model_dump_json(), encoding="utf-8")
    return path


def test_diagnose_names_the_clash_of_an_infeasible_round(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diagnose", str(_round_file(tmp_path, infeasible=True))]) == 1
    assert "cannot all hold" in capsys.readouterr().out
    assert main(["diagnose", str(_round_file(tmp_path, infeasible=False))]) == 0


def test_robustness_prints_the_overlap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["robustness", str(_round_file(tmp_path, infeasible=False)), "--samples", "3", "--seed", "1"])
        == 0
    )
    assert "Over 3 of 3 noisy re-scorings" in capsys.readouterr().out
    assert main(["robustness"]) == 2
