"""Any council's round end to end: publisher settings, 360Giving (flatten-tool + schema),
Transparency Code, the outcome table and the `explain` command, on a Kent-like round."""

from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from allocate import Allocation, InvalidProblemError, Problem, solve
from allocate.cli import main
from allocate.io import Publisher, grants_package, read_problem, read_publisher, write_360giving_csv
from allocate.io.publisher import publisher_for
from allocate.io.transparency import transparency_rows
from allocate.io.write import write_problem
from conftest import giving_validator

DATA = Path(__file__).parent / "data"
KENT = DATA / "kent" / "kent_round.xlsx"
SCHEMA = DATA / "360giving"
KENT_CODES = {
    "Ashford": "E07000105",
    "Canterbury": "E07000106",
    "Dartford": "E07000107",
    "Dover": "E07000108",
    "Folkestone and Hythe": "E07000112",
    "Maidstone": "E07000110",
}
MODIFIED = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def kent() -> Problem:
    return read_problem(KENT)


@pytest.fixture(scope="module")
def kent_allocation(kent: Problem) -> Allocation:
    return solve(kent, "highs")


@pytest.fixture(scope="module")
def kent_publisher() -> Publisher:
    pub = read_publisher(KENT)
    assert pub is not None
    return pub.model_copy(update={"modified": MODIFIED})


def unflatten(csv_path: Path, tmp_path: Path) -> dict[str, Any]:
    """360Giving's own flatten-tool turns the flat CSV into a JSON package."""
    import flattentool  # the dev extra installs it: a missing one is a failure, not a skip

    folder = tmp_path / "flat"
    folder.mkdir()
    shutil.copy(csv_path, folder / "grants.csv")
    out = tmp_path / "unflattened.json"
    flattentool.unflatten(
        str(folder),
        output_name=str(out),
        input_format="csv",
        root_list_path="grants",
        root_id="",
        id_name="id",
        schema=str(SCHEMA / "360-giving-schema.json"),
        convert_titles=True,
    )
    package: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return package


# ---------------------------------------------------------------- publisher settings


def test_publisher_read_from_workbook(kent_publisher: Publisher) -> None:
    assert kent_publisher.funder_id == "GB-LAE-KEN"
    assert kent_publisher.funder_name == "Kent County Council"
    assert kent_publisher.district_codes == KENT_CODES
    assert kent_publisher.award_date == date(2026, 4, 1)
    assert kent_publisher.organisation_ids == {"Kent Example Org 01 (synthetic)": "GB-CHC-1000001"}


def test_publisher_from_folder_and_json(kent: Problem, kent_publisher: Publisher, tmp_path: Path) -> None:
    folder = tmp_path / "round"
    write_problem(kent, folder)
    assert read_publisher(folder) is None
    codes = "; ".join(f"{k}={v}" for k, v in KENT_CODES.items())
    (folder / "publisher.csv").write_text(
        f'funder_id,funder_name,prefix,district_codes\nGB-LAE-KEN,Kent County Council,360G-KCC,"{codes}"\n',
        encoding="utf-8",
    )
    assert read_problem(folder) == kent  # the publisher table is not part of the problem
    got = read_publisher(folder)
    assert got is not None and got.prefix == "360G-KCC" and got.district_codes == KENT_CODES
    data = kent.model_dump(mode="json")
    data["publisher"] = kent_publisher.model_dump(mode="json")
    (tmp_path / "round.json").write_text(json.dumps(data), encoding="utf-8")
    assert read_problem(tmp_path / "round.json") == kent
    assert read_publisher(tmp_path / "round.json") == kent_publisher


def test_publisher_bad_cells_named(tmp_path: Path) -> None:
    path = tmp_path / "publisher.csv"
    path.write_text(
        "funder_id,funder_name,prefix,district_codes\nGB-LAE-KEN,Kent,360G-K,Dover\n", encoding="utf-8"
    )
    with pytest.raises(InvalidProblemError, match=r"publisher\.csv row 2, column district_codes: 'Dover'"):
        read_publisher(path)
    path.write_text("funder_id,funder_name,prefix\nGB-LAE-KEN,Kent,KCC\n", encoding="utf-8")
    with pytest.raises(InvalidProblemError, match=r"publisher\.csv Publisher\.prefix: .*'360G-'"):
        read_publisher(path)


def test_no_east_sussex_default_for_another_council(
    kent: Problem, kent_allocation: Allocation, tmp_path: Path
) -> None:
    with pytest.raises(InvalidProblemError) as err:
        write_360giving_csv(kent, kent_allocation, tmp_path / "g.csv")
    message = str(err.value)
    for needed in (
        "funder_id",
        "funder_name",
        "prefix",
        "department",
        "area_name",
        "district_codes",
        *KENT_CODES,
    ):
        assert needed in message
    assert not (tmp_path / "g.csv").exists()
    with pytest.raises(InvalidProblemError, match="Publisher: is required"):
        transparency_rows(kent, kent_allocation)


def test_missing_codes_listed(kent: Problem) -> None:
    pub = Publisher(
        funder_id="GB-LAE-KEN", funder_name="Kent", prefix="360G-K", district_codes={"Dover": "E07000108"}
    )
    with pytest.raises(InvalidProblemError, match=r"Publisher\.district_codes: .*'Ashford', 'Canterbury'"):
        publisher_for(kent, pub)
    full = pub.model_copy(update={"district_codes": KENT_CODES})
    with pytest.raises(InvalidProblemError, match=r"Publisher\.area_name: is required: applications KB"):
        publisher_for(kent, full)
    kent_ready = full.model_copy(update={"area_name": "Kent", "area_code": "E10000016"})
    assert publisher_for(kent, kent_ready) is kent_ready
    with pytest.raises(InvalidProblemError, match=r"Publisher\.department"):
        publisher_for(kent, kent_ready, department=True)


def test_east_sussex_round_keeps_its_default() -> None:
    problem = read_problem(Path(__file__).parents[1] / "examples" / "small_round.xlsx")
    assert publisher_for(problem, None) == Publisher.east_sussex()


# ---------------------------------------------------------------- 360Giving and Transparency Code


def test_kent_360giving_csv_flattens_to_valid_grants(
    kent: Problem, kent_allocation: Allocation, kent_publisher: Publisher, tmp_path: Path
) -> None:
    write_360giving_csv(kent, kent_allocation, tmp_path / "g.csv", kent_publisher)
    package = unflatten(tmp_path / "g.csv", tmp_path)
    package.update(version="1.4", title="Kent")
    errors = [f"{list(e.path)}: {e.message}" for e in giving_validator().iter_errors(package)]
    assert not errors
    grants = package["grants"]
    assert len(grants) == len(kent_allocation.awards)
    # flattened CSV and JSON package describe the same grants, location for location
    direct = {g["id"]: g for g in grants_package(kent, kent_allocation, kent_publisher)["grants"]}
    several = 0
    for grant in grants:
        want = direct[grant["id"]]
        assert grant["beneficiaryLocation"] == want["beneficiaryLocation"]
        assert grant["amountAwarded"] == want["amountAwarded"]
        assert grant["fundingOrganization"] == [
            {"id": "GB-LAE-KEN", "name": "Kent County Council", "department": "Adult Social Care and Health"}
        ]
        codes = [loc["geoCode"] for loc in grant["beneficiaryLocation"]]
        assert all(c in KENT_CODES.values() or c == "E10000016" for c in codes)
        several += len(codes) > 1
    assert several >= 2  # the round has awards serving several districts


def test_kent_360giving_json_validates(
    kent: Problem, kent_allocation: Allocation, kent_publisher: Publisher
) -> None:
    package = grants_package(kent, kent_allocation, kent_publisher)
    assert not list(giving_validator().iter_errors(package))
    assert all(g["id"].startswith("360G-KCCEXAMPLE-") for g in package["grants"])


def test_kent_transparency(kent: Problem, kent_allocation: Allocation, kent_publisher: Publisher) -> None:
    header, rows = transparency_rows(kent, kent_allocation, kent_publisher)
    assert len(rows) == len(kent_allocation.awards)
    for row in rows:
        record = dict(zip(header, row, strict=True))
        assert record["Organisation name"] == "Kent County Council"
        assert record["Organisation code"] == "E10000016"
        assert record["Department"] == "Adult Social Care and Health"
        assert record["Date awarded"] == "2026-04-01"
        if record["Beneficiary"] == "Kent Example Org 01 (synthetic)":
            assert record["Beneficiary registration number"] == "1000001"
    assert sum(int(str(r[-1]).replace(".", "")) for r in rows) == kent_allocation.total


# ---------------------------------------------------------------- the whole round from the command line


def _kent_cli(tmp_path: Path, explain: list[str]) -> None:
    """Workbook -> 360Giving CSV and JSON, Transparency CSV, outcomes CSV and HTML report, each checked."""
    out = {
        k: tmp_path / v
        for k, v in {"csv": "g.csv", "json": "g.json", "t": "t.csv", "o": "o.csv", "r": "r.html"}.items()
    }
    base = ["solve", str(KENT), "--backend", "highs", "--no-certify"]
    assert main([*base, "--360giving", str(out["csv"]), "--transparency", str(out["t"])]) == 0
    assert main([*base, "--360giving", str(out["json"])]) == 0
    assert main(["explain", str(KENT), *explain, "--out", str(out["o"])]) == 0
    assert main(["report", str(KENT), "--backend", "highs", "--out", str(out["r"])]) == 0
    package = json.loads(out["json"].read_text(encoding="utf-8"))
    assert not list(giving_validator().iter_errors(package))
    flat = unflatten(out["csv"], tmp_path) | {"version": "1.4"}
    assert not list(giving_validator().iter_errors(flat))
    assert {g["id"] for g in flat["grants"]} == {g["id"] for g in package["grants"]}
    transparency = list(csv.DictReader(out["t"].open(encoding="utf-8", newline="")))
    assert {r["Organisation name"] for r in transparency} == {"Kent County Council"}
    assert len(transparency) == len(package["grants"])
    outcomes = list(csv.DictReader(out["o"].open(encoding="utf-8", newline="")))
    kent = read_problem(KENT)
    wanted = [a for a in kent.applications if not explain or a.id in explain]
    assert [r["application"] for r in outcomes] == [a.id for a in wanted for _ in (None, *a.variants)]
    funded = {r["application"] for r in outcomes if r["funded"] == "yes"}
    granted = {a.id for a in wanted for g in package["grants"] if re.search(f"-{a.id.lower()}(-|$)", g["id"])}
    assert funded == granted
    assert all(r["reason_text"] for r in outcomes)
    html = out["r"].read_text(encoding="utf-8")
    assert "Kent Community Grants 2026" in html and "KB07" in html and "Every application" in html


def test_kent_end_to_end_from_the_cli(tmp_path: Path) -> None:
    _kent_cli(tmp_path, ["--application", "KB02", "--application", "KB04", "--application", "KB07"])


@pytest.mark.slow
def test_kent_end_to_end_every_application(tmp_path: Path) -> None:
    _kent_cli(tmp_path, [])
    outcomes = list(csv.DictReader((tmp_path / "o.csv").open(encoding="utf-8", newline="")))
    assert {r["reason"] for r in outcomes} >= {"funded", "pass mark", "excluded", "outscored"}


def test_cli_publisher_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "round"
    write_problem(read_problem(KENT), folder)  # no publisher in the folder
    grants = tmp_path / "g.csv"
    base = ["solve", str(folder), "--backend", "highs", "--no-certify", "--360giving", str(grants)]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "Publisher: is required" in err and "--funder-id" in err and not grants.exists()
    flags = ["--funder-id", "GB-LAE-KEN", "--funder-name", "Kent County Council", "--prefix", "360G-KCC"]
    flags += ["--area-name", "Kent", "--area-code", "E10000016"]
    assert main([*base, *flags]) == 2
    assert "district_codes" in capsys.readouterr().err and not grants.exists()
    for name, code in KENT_CODES.items():
        flags += ["--district-code", f"{name}={code}"]
    assert main([*base, *flags]) == 0
    rows = list(csv.DictReader(grants.open(encoding="utf-8", newline="")))
    assert rows and {r["Funding Org:Identifier"] for r in rows} == {"GB-LAE-KEN"}
    # flags override the round's own publisher sheet
    assert (
        main(
            [
                "solve",
                str(KENT),
                "--backend",
                "highs",
                "--no-certify",
                "--360giving",
                str(grants),
                "--prefix",
                "360G-OTHER",
            ]
        )
        == 0
    )
    assert all(
        r["Identifier"].startswith("360G-OTHER-")
        for r in csv.DictReader(grants.open(encoding="utf-8", newline=""))
    )
