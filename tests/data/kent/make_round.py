"""Make kent_round.xlsx: a synthetic 40-bid round for six Kent districts, with its publisher sheet.

Run from the repository root: ``python tests/data/kent/make_round.py``. Organisations and bids
are made up; district populations are rounded 2021 census figures, codes are ONS codes.
"""

from __future__ import annotations

import random
from pathlib import Path

from openpyxl import load_workbook

from allocate import (
    Application,
    Budget,
    ClientGroup,
    Coverage,
    District,
    EqualityGap,
    Exclusive,
    Lock,
    NoNewGaps,
    OrganisationCap,
    PassMark,
    Problem,
    Variant,
    Weights,
)
from allocate.io import write_problem

HERE = Path(__file__).parent
DISTRICTS = {  # id: (population, need, ONS code)
    "Ashford": (132_700, 0.9, "E07000105"),
    "Canterbury": (157_400, 1.1, "E07000106"),
    "Dartford": (116_800, 0.8, "E07000107"),
    "Dover": (116_400, 1.2, "E07000108"),
    "Folkestone and Hythe": (109_800, 1.2, "E07000112"),
    "Maidstone": (175_800, 1.0, "E07000110"),
}
GROUPS = ("carers", "older_people", "young_people", "mental_health")


def make() -> Problem:
    rng = random.Random(2026)
    names = list(DISTRICTS)
    apps = []
    for i in range(1, 41):
        org = f"Kent Example Org {1 + (i - 1) % 28:02d} (synthetic)"
        spread = rng.random()
        if spread < 0.15:
            districts: tuple[str, ...] = ()
        elif spread < 0.45:
            districts = tuple(sorted(rng.sample(names, rng.choice((2, 3)))))
        else:
            districts = (rng.choice(names),)
        cost = rng.choice((8, 12, 15, 20, 25, 30, 40, 60, 80)) * 1_000_00 + rng.choice((0, 50, 2550))
        first = cost // 2 + (cost % 2)
        variants = ()
        if i % 9 == 0:
            v_cost = cost * 3 // 5
            variants = (
                Variant(
                    id=f"KB{i:02d}-reduced",
                    cost=v_cost,
                    cost_profile=(v_cost - v_cost // 2, v_cost // 2),
                    outcome_score=float(max(0, rng.randint(50, 80) - 6)),
                ),
            )
        apps.append(
            Application(
                id=f"KB{i:02d}",
                organisation=org,
                title=f"Community support project {i} (synthetic)",
                client_groups=tuple(sorted(rng.sample(GROUPS, rng.choice((1, 1, 2))))),
                districts=districts,
                cost=cost,
                cost_profile=(first, cost - first),
                outcome_score=float(rng.randint(40, 92)),
                social_scores=tuple(float(rng.randint(0, 5)) for _ in range(6)),
                continues_service=i % 5 == 0,
                variants=variants,
            )
        )
    return Problem(
        name="Kent Community Grants 2026 (synthetic)",
        districts=[District(id=d, population=p, need=n) for d, (p, n, _) in DISTRICTS.items()],
        client_groups=[ClientGroup(id=g) for g in GROUPS],
        applications=apps,
        budget=Budget(total=600_000_00, per_year=(300_000_00, 300_000_00)),
        rules=[
            PassMark(min_outcome=55),
            NoNewGaps(),
            OrganisationCap(max_awards=1),
            EqualityGap(over="district", tolerance=0.12),
            Coverage(over="client_group", key="carers", min_count=2),
            Lock(application="KB07", fund=False),
            Exclusive(applications=("KB11", "KB12")),
        ],
        weights=Weights(social_value_share=0.2),
        attribution="need",
    )


def main() -> None:
    path = HERE / "kent_round.xlsx"
    write_problem(make(), path, money="pounds")
    book = load_workbook(path)
    sheet = book.create_sheet("publisher")
    header = [
        "funder_id", "funder_name", "prefix", "department", "award_date",
        "area_name", "area_code", "district_codes", "organisation_ids",
    ]  # fmt: skip
    sheet.append(header)
    sheet.append(
        [
            "GB-LAE-KEN",
            "Kent County Council",
            "360G-KCCEXAMPLE",
            "Adult Social Care and Health",
            "2026-04-01",
            "Kent",
            "E10000016",
            "; ".join(f"{d}={c}" for d, (_, _, c) in DISTRICTS.items()),
            "Kent Example Org 01 (synthetic)=GB-CHC-1000001",
        ]
    )
    book.save(path)


if __name__ == "__main__":
    main()
