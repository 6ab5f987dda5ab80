"""Data in and out: readers, writers, 360Giving, equality summary and the CLI (fast)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from allocate import Allocation, InvalidProblemError, Problem, solve
from allocate.analysis.equality import equality_summary
from allocate.cli import main
from allocate.io import (
    Publisher,
    grants_package,
    problem_from_dataframe,
    read_allocation,
    read_award_schedule,
    read_problem,
    write_360giving_csv,
    write_allocation,
    write_problem,
    write_transparency_csv,
)
from allocate.io.safe import neutralise, restore
from conftest import edit_cell, giving_validator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EVIL = '=HYPERLINK("http://example.invalid/x", "click")'


@pytest.fixture(scope="module")
def problem() -> Problem:
    return read_problem(EXAMPLES / "small_round.xlsx")


@pytest.fixture(scope="module")
def allocation(problem: Problem) -> Allocation:
    return solve(problem)


# ---------------------------------------------------------------- reading


def test_examples_agree(problem: Problem) -> None:
    assert read_problem(EXAMPLES / "small_round") == problem
    assert 10 <= len(problem.applications) <= 20
    assert {d.id for d in problem.districts} == {"Eastbourne", "Hastings", "Lewes", "Rother", "Wealden"}


@pytest.mark.parametrize("dest", ["p.json", "p.xlsx", "folder"])
@pytest.mark.parametrize("money", ["pence", "pounds"])
def test_problem_round_trip(problem: Problem, tmp_path: Path, dest: str, money: str) -> None:
    odd = problem.replace(
        applications=(problem.applications[0].model_copy(update={"title": EVIL}), *problem.applications[1:])
    )
    write_problem(odd, tmp_path / dest, money=money)
    assert read_problem(tmp_path / dest) == odd


def test_bom_accepted(folder: Path, problem: Problem) -> None:
    path = folder / "applications.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_problem(folder) == problem


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "cost_pounds",
            "12.345",
            "applications.csv row 7, column cost_pounds: '12.345' has fractions of a penny",
        ),
        ("cost_pounds", "twelve", "applications.csv row 7, column cost_pounds: 'twelve' is not a number"),
        ("outcome_score", "", "applications.csv row 7, column outcome_score: is empty but required"),
        ("outcome_score", "1e999x", "applications.csv row 7, column outcome_score"),
        ("districts", "Brighton", "applications.csv row 7, column districts: unknown district 'Brighton'"),
        (
            "client_groups",
            "pets",
            "applications.csv row 7, column client_groups: unknown client group 'pets'",
        ),
        ("continues_service", "maybe", "applications.csv row 7, column continues_service"),
        ("beneficiaries", "4.5", "applications.csv row 7, column beneficiaries: '4.5' is not a whole number"),
        ("profile_year_1", "1.00", "applications.csv row 7, column profile_year_1..N: Value error, sums to"),
        ("outcome_score", "150", "applications.csv row 7, column outcome_score: 150.0 is outside"),
    ],
)
def test_bad_cell(folder: Path, column: str, value: str, message: str) -> None:
    edit_cell(folder / "applications.csv", 7, column, value)
    with pytest.raises(InvalidProblemError) as err:
        read_problem(folder)
    assert message in str(err.value)


def test_missing_column(folder: Path) -> None:
    path = folder / "applications.csv"
    records = list(csv.reader(path.open(encoding="utf-8", newline="")))
    i = records[0].index("outcome_score")
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([r[:i] + r[i + 1 :] for r in records])
    with pytest.raises(InvalidProblemError, match=r"applications.csv, column outcome_score: is missing"):
        read_problem(folder)


def test_unknown_column(folder: Path) -> None:
    path = folder / "districts.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("need", "nede", 1), encoding="utf-8")
    with pytest.raises(InvalidProblemError, match=r"districts.csv, column nede: is not a known column"):
        read_problem(folder)


def test_bad_rule_named_by_row(folder: Path) -> None:
    edit_cell(folder / "rules.csv", 3, "kind", "no_such_rule")
    with pytest.raises(InvalidProblemError, match=r"rules.csv row 3"):
        read_problem(folder)


def test_unknown_variant_parent(folder: Path) -> None:
    edit_cell(folder / "variants.csv", 2, "application_id", "Z99")
    with pytest.raises(
        InvalidProblemError, match=r"variants.csv row 2, column application_id: unknown application"
    ):
        read_problem(folder)


def test_wrong_encoding(folder: Path) -> None:
    path = folder / "applications.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("cp1252"))  # "café" becomes byte 0xe9
    with pytest.raises(
        InvalidProblemError, match=r"applications.csv: is not UTF-8 text \(byte 0xe9 on line \d+\)"
    ):
        read_problem(folder)


def test_utf16_rejected(folder: Path) -> None:
    path = folder / "budget.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(InvalidProblemError, match=r"budget.csv: is UTF-16"):
        read_problem(folder)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf\r\n"])
def test_empty_file(folder: Path, content: bytes) -> None:
    (folder / "districts.csv").write_bytes(content)
    with pytest.raises(InvalidProblemError, match=r"districts.csv: is empty"):
        read_problem(folder)


def test_missing_table(folder: Path) -> None:
    (folder / "budget.csv").unlink()
    with pytest.raises(InvalidProblemError, match=r"budget.csv / sheet budget: is missing"):
        read_problem(folder)


def test_xlsx_error_names_sheet(problem: Problem, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    write_problem(problem, tmp_path / "p.xlsx", money="pounds")
    book = load_workbook(tmp_path / "p.xlsx")
    sheet = book["applications"]
    col = [c.value for c in sheet[1]].index("cost_pounds") + 1
    sheet.cell(row=4, column=col, value=10.005)
    book.save(tmp_path / "p.xlsx")
    with pytest.raises(InvalidProblemError) as err:
        read_problem(tmp_path / "p.xlsx")
    assert "p.xlsx sheet applications row 4, column cost_pounds: '10.005' has fractions of a penny" in str(
        err.value
    )


def test_not_a_workbook(tmp_path: Path) -> None:
    (tmp_path / "x.xlsx").write_text("hello", encoding="utf-8")
    with pytest.raises(InvalidProblemError, match=r"x.xlsx: is not a readable XLSX workbook"):
        read_problem(tmp_path / "x.xlsx")


def test_rules_json_in_folder(folder: Path, problem: Problem) -> None:
    (folder / "rules.csv").unlink()
    rules = [r.model_dump(mode="json") for r in problem.rules]
    (folder / "rules.json").write_text(json.dumps(rules), encoding="utf-8")
    assert read_problem(folder) == problem


def test_dataframe(problem: Problem) -> None:
    import pandas as pd

    apps = pd.read_csv(EXAMPLES / "small_round" / "applications.csv", dtype=str, keep_default_na=False)
    variants = pd.read_csv(EXAMPLES / "small_round" / "variants.csv", dtype=str, keep_default_na=False)
    got = problem_from_dataframe(
        apps,
        districts=problem.districts,
        client_groups=problem.client_groups,
        budget=problem.budget,
        rules=problem.rules,
        weights=problem.weights,
        variants=variants,
        name=problem.name,
    )
    assert got == problem
    apps.loc[3, "cost_pounds"] = "1.001"
    with pytest.raises(InvalidProblemError, match=r"applications DataFrame .* row 3, column cost_pounds"):
        problem_from_dataframe(
            apps, districts=problem.districts, client_groups=problem.client_groups, budget=problem.budget
        )


# ---------------------------------------------------------------- errors of the whole problem, placed in the file


def _rename_column(path: Path, old: str, new: str) -> None:
    records = list(csv.reader(path.open(encoding="utf-8", newline="")))
    records[0][records[0].index(old)] = new
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(records)


@pytest.mark.parametrize(
    ("table", "row", "column", "value", "place", "reason"),
    [
        pytest.param(
            "rules",
            2,
            "key",
            "Lockerbie",
            "rules.csv row 2, column key",
            "'Lockerbie' is not a district of the problem (rule Coverage[district=Lockerbie])",
            id="rule-validate-against",
        ),
        pytest.param(
            "rules",
            4,
            "max_share",
            "2",
            "rules.csv row 4, column max_share",
            "less than or equal to 1",
            id="rule-field",
        ),
        pytest.param(
            "variants",
            2,
            "outcome_score",
            "150",
            "variants.csv row 2, column outcome_score",
            "150.0 is outside the declared scale 0..100.0 (application 'A02', variant 'A02-reduced')",
            id="variant",
        ),
        pytest.param(
            "applications",
            7,
            "sc3",
            "9",
            "applications.csv row 7, column sc3",
            "9.0 is outside the declared scale 0..5.0 (application 'A06')",
            id="numbered-column",
        ),
        pytest.param(
            "applications",
            8,
            "id",
            "A06",
            "applications.csv row 8, column id",
            "duplicate id 'A06'",
            id="duplicate",
        ),
        pytest.param(
            "weights",
            2,
            "social_objective_weights",
            "1;2",
            "weights.csv row 2, column social_objective_weights",
            "has 2 weights but there are 6 social objectives",
            id="one-row-table",
        ),
        pytest.param(
            "settings",
            2,
            "attribution",
            "magic",
            "settings.csv row 2, column attribution",
            "Input should be 'population' or 'need'",
            id="settings",
        ),
        pytest.param(
            "budget",
            2,
            "year_2",
            "1.00",
            "budget.csv row 2, column year_1..N",
            "limits sum to",
            id="own-model",
        ),
    ],
)
def test_problem_error_placed_at_row_and_column(
    folder: Path, table: str, row: int, column: str, value: str, place: str, reason: str
) -> None:
    """An error found on the whole problem (its `loc` a path such as Problem.rules[0].key) is
    placed at the file, row and column the value came from: `loc` becomes that place."""
    edit_cell(folder / f"{table}.csv", row, column, value)
    with pytest.raises(InvalidProblemError) as err:
        read_problem(folder)
    assert err.value.loc == (place,)
    assert err.value.field == place
    assert reason in err.value.reason
    assert str(err.value).startswith(f"{place}: ")


def test_rule_money_in_pounds_placed_at_its_column(folder: Path) -> None:
    _rename_column(folder / "rules.csv", "min_amount", "min_amount_pounds")
    edit_cell(folder / "rules.csv", 2, "min_amount_pounds", "-5")
    with pytest.raises(InvalidProblemError) as err:
        read_problem(folder)
    assert err.value.loc == ("rules.csv row 2, column min_amount_pounds",)


def test_xlsx_problem_error_names_sheet_row_and_column(problem: Problem, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    write_problem(problem, tmp_path / "p.xlsx")
    book = load_workbook(tmp_path / "p.xlsx")
    sheet = book["rules"]
    sheet.cell(row=2, column=[c.value for c in sheet[1]].index("key") + 1, value="Lockerbie")
    book.save(tmp_path / "p.xlsx")
    with pytest.raises(InvalidProblemError) as err:
        read_problem(tmp_path / "p.xlsx")
    assert err.value.loc == ("p.xlsx sheet rules row 2, column key",)


def test_json_file_error_is_the_file_then_the_path(problem: Problem, tmp_path: Path) -> None:
    data = json.loads(problem.model_dump_json())
    data["applications"][2]["cost"] = -1
    (tmp_path / "p.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InvalidProblemError) as err:
        read_problem(tmp_path / "p.json")
    assert err.value.loc == ("p.json", "Problem", "applications", 2, "cost")
    assert str(err.value).startswith("p.json Problem.applications[2].cost: Input should be greater than 0")


def test_write_does_not_use_the_readers_private_helpers() -> None:
    import ast

    import allocate.io.write as write

    tree = ast.parse(Path(write.__file__).read_text(encoding="utf-8"))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "allocate.io.read" not in modules


# ---------------------------------------------------------------- writing


@pytest.mark.parametrize("suffix", [".json", ".csv", ".xlsx"])
def test_allocation_round_trip(problem: Problem, allocation: Allocation, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"awards{suffix}"
    write_allocation(problem, allocation, path)
    if suffix == ".json":
        assert read_allocation(path) == allocation
    elif suffix == ".csv":
        assert read_award_schedule(path) == allocation.awards
    else:  # XLSX keeps 15 significant digits, as Excel does: values are approximate, money exact
        got = read_award_schedule(path)
        exact = ("application", "variant", "organisation", "amount", "profile")
        assert [a.model_dump(include=set(exact)) for a in got] == [
            a.model_dump(include=set(exact)) for a in allocation.awards
        ]
        assert [a.value for a in got] == pytest.approx([a.value for a in allocation.awards], rel=1e-12)


def test_neutralise_helper() -> None:
    for text in (EVIL, "+1", "-2", "@SUM(A1)", "\tx", "\rx", "'=x", "''=x", "'plain", "plain", ""):
        assert restore(str(neutralise(text))) == text
    assert neutralise(EVIL) == "'" + EVIL
    assert neutralise("'=x") == "''=x"
    assert neutralise("plain") == "plain"
    assert neutralise(-5) == -5


def _evil(problem: Problem) -> Problem:
    apps = tuple(a.model_copy(update={"title": EVIL, "organisation": "@evil"}) for a in problem.applications)
    return problem.replace(applications=apps)


def test_injection_csv(problem: Problem, allocation: Allocation, tmp_path: Path) -> None:
    bad = _evil(problem)
    awards = tuple(a.model_copy(update={"organisation": "@evil"}) for a in allocation.awards)
    alloc = allocation.model_copy(update={"awards": awards})
    write_allocation(bad, alloc, tmp_path / "a.csv")
    write_360giving_csv(bad, alloc, tmp_path / "g.csv")
    write_transparency_csv(bad, alloc, tmp_path / "t.csv")
    write_problem(bad, tmp_path / "p")
    for path in [tmp_path / "a.csv", tmp_path / "g.csv", tmp_path / "t.csv", *(tmp_path / "p").glob("*.csv")]:
        for record in csv.reader(path.open(encoding="utf-8", newline="")):
            for cell in record:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (path.name, cell)
    rows = list(csv.DictReader((tmp_path / "a.csv").open(encoding="utf-8", newline="")))
    assert rows[0]["title"] == "'" + EVIL


def test_injection_xlsx(problem: Problem, allocation: Allocation, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    bad = _evil(problem)
    write_allocation(bad, allocation, tmp_path / "a.xlsx")
    write_problem(bad, tmp_path / "p.xlsx")
    for path in (tmp_path / "a.xlsx", tmp_path / "p.xlsx"):
        book = load_workbook(path)
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (path.name, cell.coordinate, cell.value)
                    if isinstance(cell.value, str):
                        assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert read_problem(tmp_path / "p.xlsx") == bad


# ---------------------------------------------------------------- 360Giving and transparency

PUBLISHER = Publisher.east_sussex(
    award_date=date(2026, 4, 1), modified=datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
)


def test_360giving_json_validates(problem: Problem, allocation: Allocation) -> None:
    validator = giving_validator()
    package = grants_package(problem, allocation, PUBLISHER)
    errors = [e.message for e in validator.iter_errors(package)]
    assert not errors
    assert len(package["grants"]) == len(allocation.awards)
    first = package["grants"][0]
    assert first["currency"] == "GBP" and first["fundingOrganization"][0]["id"] == "GB-LAE-ESX"
    bad = dict(package, grants=[{k: v for k, v in first.items() if k != "amountAwarded"}])
    assert list(validator.iter_errors(bad))


def test_360giving_csv(problem: Problem, allocation: Allocation, tmp_path: Path) -> None:
    write_360giving_csv(problem, allocation, tmp_path / "g.csv", PUBLISHER)
    rows = list(csv.DictReader((tmp_path / "g.csv").open(encoding="utf-8", newline="")))
    assert len(rows) == len(allocation.awards)
    by_id = {a.application: a for a in allocation.awards}
    codes = {
        "Eastbourne": "E07000061",
        "Hastings": "E07000062",
        "Lewes": "E07000063",
        "Rother": "E07000064",
        "Wealden": "E07000065",
    }
    for row in rows:
        app_id = row["Identifier"].split("-")[-1].upper()
        award = next(a for k, a in by_id.items() if k.lower() in row["Identifier"])
        assert row["Amount Awarded"] == f"{award.amount // 100}.{award.amount % 100:02d}"
        assert row["Award Date"] == "2026-04-01" and row["Currency"] == "GBP"
        groups = range(sum(1 for k in row if k.endswith(":Name") and k.startswith("Beneficiary Location:")))
        names = [
            row[f"Beneficiary Location:{i}:Name"] for i in groups if row[f"Beneficiary Location:{i}:Name"]
        ]
        codes_got = [row[f"Beneficiary Location:{i}:Geographic Code"] for i in range(len(names))]
        if names == ["East Sussex"]:
            assert codes_got == ["E10000011"]
        else:
            assert codes_got == [codes[n] for n in names], app_id
        assert row["Planned Dates:Duration (months)"] in ("12", "24")


def test_360giving_unknown_district_needs_mapping(
    problem: Problem, allocation: Allocation, tmp_path: Path
) -> None:
    pub = Publisher.east_sussex(district_codes={"Eastbourne": "E07000061"})
    with pytest.raises(InvalidProblemError, match=r"Publisher\.district_codes"):
        write_360giving_csv(problem, allocation, tmp_path / "g.csv", pub)


def test_transparency_code(problem: Problem, allocation: Allocation, tmp_path: Path) -> None:
    write_transparency_csv(
        problem, allocation, tmp_path / "t.csv", Publisher.east_sussex(award_date=date(2026, 4, 1))
    )
    rows = list(csv.DictReader((tmp_path / "t.csv").open(encoding="utf-8", newline="")))
    assert len(rows) == len(allocation.awards)
    assert set(rows[0]) >= {
        "Date awarded",
        "Time period",
        "Beneficiary",
        "Summary of the purpose of the grant",
        "Amount (£)",
    }


# ---------------------------------------------------------------- equality and CLI


def test_equality_summary(problem: Problem, allocation: Allocation) -> None:
    summary = equality_summary(problem, allocation)
    districts = [x for x in summary.lines if x.dimension == "district"]
    assert abs(sum(x.money for x in districts) - allocation.total) < 1
    assert abs(sum(x.benchmark_share or 0 for x in districts) - 1) < 1e-9
    assert summary.lost_cells == ()  # the example round keeps NoNewGaps
    assert "Equality impact summary" in summary.text()
    header, rows = summary.to_rows()
    assert header[0] == "dimension" and len(rows) == len(summary.lines)
    # Without NoNewGaps, funding only one application loses the cells others serve today.
    one = allocation.model_copy(update={"awards": allocation.awards[:1]})
    lost = equality_summary(problem, one)
    assert lost.lost_cells and "LOSE ALL PROVISION" in lost.text()
    assert lost.to_rows()[1][-1][-1] == "yes"


def test_cli_solve_xlsx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, grants = tmp_path / "x.csv", tmp_path / "g.csv"
    code = main(["solve", str(EXAMPLES / "small_round.xlsx"), "--out", str(out), "--360giving", str(grants)])
    assert code == 0
    assert read_award_schedule(out)
    assert "Identifier" in grants.read_text(encoding="utf-8").splitlines()[0]
    assert "allocation written" in capsys.readouterr().out


def test_cli_solve_folder_and_equality(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", str(EXAMPLES / "small_round"), "--out", str(tmp_path / "a.xlsx")]) == 0
    assert main(["equality", str(EXAMPLES / "small_round"), "--csv", str(tmp_path / "e.csv")]) == 0
    assert "Equality impact summary" in capsys.readouterr().out
    assert (tmp_path / "e.csv").exists()


def test_cli_bad_file(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit_cell(folder / "applications.csv", 7, "cost_pounds", "12.345")
    assert main(["solve", str(folder)]) == 2
    assert "applications.csv row 7, column cost_pounds" in capsys.readouterr().err
