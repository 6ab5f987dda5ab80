"""Hostile input and faults (issue 11): every reader, writer and the CLI.

One test per kind of bad input: the error is an InvalidProblemError naming the place (file,
sheet, row, column or field) and the reason, never a traceback, never a silent change. Writers
replace a file only with a complete new one, and a failed or interrupted write leaves the old
file and no temporary file. Problems round-trip through every format for awkward text.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocate import Application, InvalidProblemError, Problem, solve
from allocate.cli import main
from allocate.engine.backends.base import quiet_stdout
from allocate.io import (
    problem_from_dataframe,
    read_problem,
    write_360giving_csv,
    write_360giving_json,
    write_allocation,
    write_problem,
    write_transparency_csv,
)
from allocate.io.atomic import atomic_path
from allocate.io.publisher import Publisher
from allocate.io.write import problem_tables
from conftest import edit_cell

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
XLSX = EXAMPLES / "small_round.xlsx"
PUBLISHER = Publisher.east_sussex()


@pytest.fixture(scope="module")
def problem() -> Problem:
    return read_problem(XLSX)


def _json(problem: Problem, tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = problem.model_dump(mode="json")
    change(data)
    path = tmp_path / "round.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _retitled(problem: Problem, **fields: str) -> Problem:
    """The problem with fields of its first application changed, validated."""
    first = Application(**{**problem.applications[0].model_dump(), **fields})
    return problem.replace(applications=(first, *problem.applications[1:]))


# ---------------------------------------------------------------- numbers in cells


@pytest.mark.parametrize(
    ("table", "column", "value", "expected"),
    [
        pytest.param("applications", "cost_pounds", "48000,50", "(a decimal comma?)", id="decimal-comma"),
        pytest.param(
            "budget", "total_pounds", "4,0,0,0,0,0", "not between groups of three", id="stray-commas"
        ),
        pytest.param("applications", "cost_pounds", "48,500", "is ambiguous", id="ambiguous-thousands-comma"),
        pytest.param("applications", "cost_pounds", "48.500", "is ambiguous", id="ambiguous-thousands-point"),
        pytest.param(
            "budget", "total_pounds", "400.000,00", "points between thousands", id="european-notation"
        ),
        pytest.param("applications", "cost_pounds", "1e999999999", "too large", id="huge-exponent-pounds"),
        pytest.param(
            "applications", "cost_pence", "9" * 5000, "too long to be a number", id="5000-digit-cost"
        ),
        pytest.param("districts", "population", "1e400", "too large", id="population-1e400"),
        pytest.param("districts", "population", "1,000", "is ambiguous", id="ambiguous-population"),
        pytest.param("districts", "need", "1,3", "a decimal comma?", id="need-decimal-comma"),
        pytest.param("districts", "need", "1e-400", "too close to 0", id="need-underflow"),
        pytest.param("applications", "outcome_score", "nan", "not a finite number", id="score-nan"),
        pytest.param("settings", "outcome_max", "1e308", "too large", id="scale-1e308"),
    ],
)
def test_bad_number_names_the_cell(folder: Path, table: str, column: str, value: str, expected: str) -> None:
    path = folder / f"{table}.csv"
    if column == "cost_pence":
        _rename(path, "cost_pounds", "cost_pence")
    edit_cell(path, 2, column, value)
    with pytest.raises(InvalidProblemError) as err:
        read_problem(folder)
    assert err.value.loc == (f"{table}.csv row 2, column {column}",)
    assert expected in err.value.reason
    assert len(str(err.value)) < 400  # the cell is shown cut short, not 5,000 digits


def _rename(path: Path, old: str, new: str) -> None:
    records = list(csv.reader(path.open(encoding="utf-8", newline="")))
    records[0][records[0].index(old)] = new
    for r in records[1:]:  # pence in that column now: whole numbers
        i = records[0].index(new)
        r[i] = str(int(float(r[i]) * 100)) if r[i] else r[i]
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(records)


@pytest.mark.parametrize(
    ("table", "column", "value", "read"),
    [
        pytest.param("budget", "total_pounds", "£400,000.00", 40_000_000, id="uk-grouping-with-pence"),
        pytest.param("districts", "population", "90,254", 90_254, id="uk-grouping-whole"),
    ],
)
def test_uk_notation_is_read(folder: Path, table: str, column: str, value: str, read: int) -> None:
    edit_cell(folder / f"{table}.csv", 2, column, value)
    problem = read_problem(folder)
    got = problem.budget.total if table == "budget" else problem.districts[0].population
    assert got == read


def test_social_objective_weights_out_of_range(folder: Path) -> None:
    edit_cell(
        folder / "weights.csv", 2, "social_objective_weights", ";".join(["1e12", "1e13", "1", "1", "1", "1"])
    )
    with pytest.raises(InvalidProblemError) as err:
        read_problem(folder)
    assert err.value.loc == ("weights.csv row 2, column social_objective_weights",)


# ---------------------------------------------------------------- JSON


@pytest.mark.parametrize(
    ("change", "loc", "expected"),
    [
        pytest.param(
            lambda d: d["applications"][0].update(cost=10**5000),
            ("round.json", "Problem", "applications", 0, "cost"),
            "5,001-digit number",
            id="json-5000-digit-int",
        ),
        pytest.param(
            lambda d: d["districts"][0].update(population=1e400),
            ("round.json", "Problem", "districts", 0, "population"),
            "integer",
            id="json-population-inf",
        ),
        pytest.param(
            lambda d: d["applications"][0].update(title="\udc80"),
            ("round.json", "Problem", "applications", 0, "title"),
            "unicode",
            id="json-lone-surrogate",
        ),
        pytest.param(
            lambda d: d["applications"][0].update(title="a\x00b"),
            ("round.json", "Problem", "applications", 0, "title"),
            "U+0000",
            id="json-nul-in-title",
        ),
        pytest.param(
            lambda d: d["applications"][0].update(organisation=" Age Concern"),
            ("round.json", "Problem", "applications", 0, "organisation"),
            "leading or trailing spaces",
            id="json-name-with-spaces",
        ),
        pytest.param(
            lambda d: d["social_objectives"].__setitem__(0, "SC;1"),
            ("round.json", "Problem", "social_objectives", 0),
            "separates the items of a list",
            id="json-semicolon-in-list-key",
        ),
        pytest.param(
            lambda d: d["weights"].update(social_objective_weights=[1e308] * 6),
            ("round.json", "Problem", "weights", "social_objective_weights", 0),
            "less than or equal",
            id="json-weights-1e308",
        ),
        pytest.param(
            lambda d: (
                d["scale"].update(outcome_max=1e300),
                d["applications"][0].update(outcome_score=1e300),
            ),
            ("round.json", "Problem", "applications", 0, "outcome_score"),
            "less than or equal",
            id="json-score-1e300",
        ),
    ],
)
def test_bad_json_names_the_field(
    problem: Problem,
    tmp_path: Path,
    change: Callable[[dict[str, Any]], None],
    loc: tuple[Any, ...],
    expected: str,
) -> None:
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # to write the 5,000-digit number
    try:
        path = _json(problem, tmp_path, change)
    finally:
        sys.set_int_max_str_digits(old)
    with pytest.raises(InvalidProblemError) as err:
        read_problem(path)
    assert err.value.loc[: len(loc)] == loc
    assert expected in err.value.reason


def test_deeply_nested_json(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(InvalidProblemError, match="nested too deeply") as err:
        read_problem(path)
    assert err.value.loc == ("deep.json",)


# ---------------------------------------------------------------- text and files


def test_nul_byte_in_csv(folder: Path) -> None:
    path = folder / "applications.csv"
    path.write_bytes(path.read_bytes().replace(b"Lunch clubs", b"Lunch\x00clubs"))
    with pytest.raises(InvalidProblemError, match="NUL byte on line 2") as err:
        read_problem(folder)
    assert err.value.loc == ("applications.csv",)


def test_unclosed_quote_names_the_row(folder: Path) -> None:
    path = folder / "districts.csv"
    path.write_text('id,population,need\nEastbourne,99000,1\n"Hastings,90000,1.3\n', encoding="utf-8")
    with pytest.raises(InvalidProblemError, match="not valid CSV") as err:
        read_problem(folder)
    assert err.value.loc[0].startswith("districts.csv row")


def test_table_that_is_a_folder(folder: Path) -> None:
    (folder / "variants.csv").unlink()
    (folder / "variants.csv").mkdir()
    with pytest.raises(InvalidProblemError, match="is a folder"):
        read_problem(folder)


def test_json_path_that_is_a_folder_inside_csv_files(folder: Path) -> None:
    from allocate.io import read_csv_files

    files = {p.stem: p for p in folder.glob("*.csv")}
    files["variants"] = folder
    with pytest.raises(InvalidProblemError, match="is a folder"):
        read_csv_files(files)


def test_dataframe_missing_values_are_empty(problem: Problem) -> None:
    pd = pytest.importorskip("pandas")
    header, rows = problem_tables(problem)["applications"]
    frame = pd.DataFrame(rows, columns=header).astype({"title": "string", "panel": "string"})
    frame.loc[0, "title"] = pd.NA
    frame.loc[1, "panel"] = pd.NA
    before = frame.copy()
    got = problem_from_dataframe(
        frame, districts=problem.districts, client_groups=problem.client_groups, budget=problem.budget
    )
    assert got.applications[0].title == "" and got.applications[1].panel == ""
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is untouched


def test_dataframe_missing_cost_is_an_error(problem: Problem) -> None:
    pd = pytest.importorskip("pandas")
    header, rows = problem_tables(problem)["applications"]
    frame = pd.DataFrame(rows, columns=header).astype({"cost_pence": "Int64"})
    frame.loc[3, "cost_pence"] = pd.NA
    with pytest.raises(InvalidProblemError, match="is empty but required") as err:
        problem_from_dataframe(
            frame, districts=problem.districts, client_groups=problem.client_groups, budget=problem.budget
        )
    assert err.value.loc == ("applications DataFrame (by index label) row 3, column cost_pence",)


def _workbook_with(problem: Problem, path: Path, cell: str, value: Any, data_type: str | None = None) -> None:
    from openpyxl import load_workbook

    write_problem(problem, path)
    book = load_workbook(path)
    book["applications"][cell].value = value
    if data_type is not None:
        book["applications"][cell].data_type = data_type
    book.save(path)


def test_xlsx_formula_without_saved_result(problem: Problem, tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    _workbook_with(problem, path, "C2", '=CONCAT("a","b")')  # openpyxl saves no result
    with pytest.raises(InvalidProblemError, match=r"formula .* saved without its result") as err:
        read_problem(path)
    assert err.value.loc == ("f.xlsx sheet applications row 2, column title",)


def test_xlsx_error_cell(problem: Problem, tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    _workbook_with(problem, path, "C3", "#DIV/0!", data_type="e")
    with pytest.raises(InvalidProblemError, match="spreadsheet error #DIV/0!") as err:
        read_problem(path)
    assert err.value.loc == ("e.xlsx sheet applications row 3, column title",)


def test_xlsx_refuses_text_it_cannot_hold_before_writing(problem: Problem, tmp_path: Path) -> None:
    long = _retitled(problem, title="x" * 40_000)
    path = tmp_path / "long.xlsx"
    with pytest.raises(InvalidProblemError, match="holds at most 32,767") as err:
        write_problem(long, path)
    assert err.value.loc == ("long.xlsx sheet applications row 2, column title",)
    assert list(tmp_path.iterdir()) == []
    write_problem(long, tmp_path / "long")  # CSV holds it, and reads it back
    assert read_problem(tmp_path / "long") == long


def test_xlsx_refuses_a_control_character_that_skipped_validation(problem: Problem, tmp_path: Path) -> None:
    sneaky = problem.replace(
        applications=(
            problem.applications[0].model_copy(update={"title": "a\x01b"}),
            *problem.applications[1:],
        )
    )
    with pytest.raises(InvalidProblemError, match="U\\+0001"):
        write_problem(sneaky, tmp_path / "c.xlsx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dest", ["p.json", "p.xlsx", "folder"])
@pytest.mark.parametrize(
    "title",
    [
        pytest.param("  spaces around  ", id="whitespace"),
        pytest.param("\r=1+1", id="carriage-return-formula"),
        pytest.param("'=already escaped", id="apostrophe-formula"),
        pytest.param("line one\nline two\r\nthree", id="newlines"),
        pytest.param("x" * 200_000, id="200KiB-title"),
    ],
)
def test_text_round_trips(problem: Problem, tmp_path: Path, dest: str, title: str) -> None:
    odd = _retitled(problem, title=title, panel=title[:100])
    if dest == "p.xlsx" and len(title) > 32_767:
        pytest.skip("an XLSX cell holds at most 32,767 characters (refusal tested above)")
    write_problem(odd, tmp_path / dest)
    assert read_problem(tmp_path / dest) == odd


_AWKWARD = st.sampled_from(
    ["=", "+", "-", "@", "'", "\t", "\r", "\n", " ", "\x00", "\x0b", "\udc80", "\ufeff", "\ufffe", "\u2028",
     "\x85", "_x000D_", ";", '"', ",", "😀", "é", "\u202e", "<NA>", "nan", "1e5", "0012"]
)  # fmt: skip
_TEXT = st.lists(st.one_of(_AWKWARD, st.text(max_size=12)), max_size=6).map("".join)


@settings(max_examples=30)
@given(title=_TEXT, panel=_TEXT, organisation=_TEXT, name=_TEXT, group=_TEXT)
def test_every_format_round_trips_or_refuses_first(
    problem: Problem, tmp_path_factory: pytest.TempPathFactory, title: str, panel: str, organisation: str,
    name: str, group: str,
) -> None:  # fmt: skip
    """read(write(problem)) == problem in every format, for any text the model accepts."""
    try:
        odd = _retitled(
            problem, title=title, panel=panel, organisation=organisation, equality_groups=(group,)
        )
        odd = odd.replace(name=name)
    except InvalidProblemError:
        return  # refused where it is made: nothing can reach a writer
    tmp = tmp_path_factory.mktemp("rt")
    for dest in ("p.json", "p.xlsx", "folder"):
        write_problem(odd, tmp / dest, money="pounds")
        assert read_problem(tmp / dest) == odd, dest


# ---------------------------------------------------------------- writes: atomic, fault-injected


@pytest.fixture(scope="module")
def allocation(problem: Problem) -> Any:
    return solve(problem, certify=False)


def _writers(problem: Problem, allocation: Any) -> dict[str, Callable[[Path], None]]:
    return {
        "problem.json": lambda p: write_problem(problem, p),
        "problem.xlsx": lambda p: write_problem(problem, p),
        "allocation.json": lambda p: write_allocation(problem, allocation, p),
        "schedule.csv": lambda p: write_allocation(problem, allocation, p),
        "schedule.xlsx": lambda p: write_allocation(problem, allocation, p),
        "360giving.csv": lambda p: write_360giving_csv(problem, allocation, p, PUBLISHER),
        "360giving.json": lambda p: write_360giving_json(problem, allocation, p, PUBLISHER),
        "transparency.csv": lambda p: write_transparency_csv(problem, allocation, p, PUBLISHER),
    }


WRITERS = [
    "problem.json", "problem.xlsx", "allocation.json", "schedule.csv", "schedule.xlsx", "360giving.csv",
    "360giving.json", "transparency.csv",
]  # fmt: skip


@pytest.mark.parametrize(
    "exc", [OSError(28, "No space left on device"), KeyboardInterrupt()], ids=["disk-full", "ctrl-c"]
)
@pytest.mark.parametrize("name", WRITERS)
def test_failed_write_keeps_the_old_file(
    problem: Problem, allocation: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
    exc: BaseException,
) -> None:  # fmt: skip
    target = tmp_path / name
    target.write_bytes(b"the good old file")
    original = Path.write_bytes

    def half(self: Path, data: bytes) -> int:
        original(self, data[: len(data) // 2])
        raise exc

    monkeypatch.setattr(Path, "write_bytes", half)
    import openpyxl.workbook.workbook as wb

    def save_half(self: Any, filename: Path) -> None:
        with open(filename, "wb") as f:
            f.write(b"PK\x03\x04 half a workbook")
        raise exc

    monkeypatch.setattr(wb.Workbook, "save", save_half)
    with pytest.raises(type(exc)):
        _writers(problem, allocation)[name](target)
    assert target.read_bytes() == b"the good old file"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left


def test_failed_folder_write_replaces_no_table(
    problem: Problem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "round"
    write_problem(problem, dest)
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    original = Path.write_bytes
    calls = []

    def third_fails(self: Path, data: bytes) -> int:
        calls.append(self)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", third_fails)
    with pytest.raises(OSError):
        write_problem(problem.replace(name="another round"), dest)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before


def test_folder_write_leaves_no_stale_table(problem: Problem, tmp_path: Path) -> None:
    dest = tmp_path / "round"
    write_problem(problem, dest)
    plain = problem.replace(
        rules=(), applications=tuple(a.model_copy(update={"variants": ()}) for a in problem.applications)
    )
    write_problem(plain, dest)
    assert read_problem(dest) == plain


def test_write_to_a_folder_or_a_missing_folder(problem: Problem, tmp_path: Path) -> None:
    (tmp_path / "p.json").mkdir()
    with pytest.raises(InvalidProblemError, match="is a folder"):
        write_problem(problem, tmp_path / "p.json")
    with pytest.raises(FileNotFoundError) as err:
        write_problem(problem, tmp_path / "missing" / "p.json")
    assert err.value.filename == str(tmp_path / "missing" / "p.json")  # the target, not a temporary name


def test_atomic_path_keeps_permissions(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    target.write_text("old")
    target.chmod(0o640)
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640


# ---------------------------------------------------------------- command line


@pytest.mark.parametrize("steps", ["0", "-3", "1", "x", "1000000"])
def test_cli_sweep_steps_range(steps: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as code:
        main(["sweep", str(XLSX), "--steps", steps])
    assert code.value.code == 2
    assert "--steps" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [["--time-limit", "-1"], ["--time-limit", "nan"], ["--social-share", "1.5"]],
    ids=["negative-time", "nan-time", "share-above-1"],
)
def test_cli_argument_ranges(args: list[str]) -> None:
    with pytest.raises(SystemExit) as code:
        main(["solve", str(XLSX), *args])
    assert code.value.code == 2


@pytest.mark.parametrize("where", ["missing/x.csv", "folder"])
def test_cli_equality_csv_bad_path(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    (tmp_path / "folder").mkdir()
    assert main(["equality", str(XLSX), "--no-certify", "--csv", str(tmp_path / where)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("allocate: error: ") and err.count("\n") == 1


def test_cli_bad_input_is_one_line_exit_2(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit_cell(folder / "applications.csv", 3, "title", "two\nlines")
    edit_cell(folder / "applications.csv", 2, "cost_pounds", "48000,50")
    assert main(["solve", str(folder), "--no-certify"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "applications.csv row 2, column cost_pounds" in err


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        pytest.param("pub.xlsx", b"not a zip", "not a readable XLSX workbook", id="publisher-not-a-workbook"),
        pytest.param("pub.json", b"[" * 100_000, "nested too deeply", id="publisher-deep-json"),
    ],
)
def test_cli_bad_publisher_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, expected: str
) -> None:
    (tmp_path / name).write_bytes(content)
    out = tmp_path / "grants.csv"
    args = ["solve", str(XLSX), "--no-certify", "--360giving", str(out), "--publisher", str(tmp_path / name)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_infeasible_writes_no_file(
    problem: Problem, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from allocate import Coverage

    impossible = problem.replace(rules=(Coverage(over="district", min_amount=problem.budget.total),))
    write_problem(impossible, tmp_path / "r.json")
    out = tmp_path / "awards.csv"
    out.write_text("the good old schedule")
    assert main(["solve", str(tmp_path / "r.json"), "--no-certify", "--out", str(out)]) == 1
    assert out.read_text() == "the good old schedule"
    assert "no file was written" in capsys.readouterr().err


def test_cli_ctrl_c_is_exit_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import allocate.cli

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(allocate.cli, "solve", interrupted)
    assert main(["solve", str(XLSX)]) == 130
    assert capsys.readouterr().err == "allocate: interrupted\n"


def test_cli_closed_pipe_is_quiet_and_still_writes(tmp_path: Path) -> None:
    out = tmp_path / "awards.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "allocate.cli", "solve", str(XLSX), "--no-certify", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()  # `| head -c 10`
    err = proc.stderr.read().decode()
    assert proc.wait() == 0
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert out.read_text(encoding="utf-8").startswith("application_id,")


@pytest.mark.slow
@pytest.mark.parametrize("to", ["main-process", "process-group"])
def test_cli_sweep_ctrl_c_stops_workers(tmp_path: Path, to: str) -> None:
    """Ctrl-C during a sweep: exit 130, one line, every worker gone, nothing written."""
    out = tmp_path / "sweep.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "allocate.cli", "sweep", "--demo", "--steps", "8", "--backend", "highs", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    workers: list[str] = []
    for _ in range(600):  # until the pool's workers have started (and then a moment to begin solving)
        kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        if len(kids) >= 2:
            workers = kids
            time.sleep(1.0)
            break
        time.sleep(0.1)
    assert workers, "the sweep never started its workers"
    if to == "main-process":
        os.kill(proc.pid, signal.SIGINT)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    assert proc.stderr is not None and proc.stderr.read().decode() == "allocate: interrupted\n"
    for _ in range(100):  # the resource tracker ends once it sees its parent go
        if not any(_running(w) for w in workers):
            break
        time.sleep(0.1)
    assert [w for w in workers if _running(w)] == []
    assert not out.exists()


def _running(pid: str) -> bool:
    """The process exists and is not a zombie (an ended process its new parent has not reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# ---------------------------------------------------------------- output silencing under threads


def test_quiet_stdout_is_safe_under_threads() -> None:
    before = os.fstat(1)

    def quiet(_: int) -> None:
        for _ in range(50):
            with quiet_stdout():
                time.sleep(0)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(quiet, range(8)))
    after = os.fstat(1)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)


def test_highs_sweep_on_threads_leaves_stdout_alone(problem: Problem) -> None:
    from allocate import sweep

    before = os.fstat(1)
    with ThreadPoolExecutor(4) as pool:
        runs = sweep(
            problem, [0.0, 0.25, 0.5, 0.75, 1.0], "highs", executor=pool, batch_size=1, method="solve"
        )
    assert all(a.status == "optimal" for a in runs)
    after = os.fstat(1)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
