"""Shared test settings: a reproducible hypothesis profile.

The default profile ("ci") is derandomised and keeps no example database, so every run
(local or CI) generates the same examples. It also skips shrinking: a failing example is
reported as generated (every property test notes the failing problem as JSON, ready to
paste into a regression test), so that a known failure cannot turn the default run into
many minutes of shrinking. HYPOTHESIS_PROFILE=explore searches randomly, with a database
and shrinking; ALLOCATE_TEST_EXAMPLES=10 runs ten times as many examples.

Hypothesis also mixes into generation the literal constants it finds in every "local"
module loaded so far (library and test modules). That pool, and so the examples, would
change with which test files happen to be collected (`pytest tests/test_properties.py`
vs `pytest`). For reproducible examples the pool is frozen here to the constants of the
`allocate` package itself, which keeps their edge-case value (thresholds in the engine).
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import pkgutil
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

import allocate

_COMMON = {
    "deadline": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    **_COMMON,
)
settings.register_profile("explore", derandomize=False, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _freeze_hypothesis_constants() -> None:
    """Make hypothesis draw "local constants" from the allocate package only (private API; skipped if it moved).

    The pool is built lazily, on the first draw inside a test, as hypothesis itself does.
    """
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import constants_from_module
    except ImportError:  # pragma: no cover - a hypothesis version without the feature
        return
    if not hasattr(providers, "_get_local_constants"):  # pragma: no cover
        return
    frozen: list[Any] = []

    def allocate_constants() -> Any:
        if not frozen:
            names = sorted(
                m.name
                for m in pkgutil.walk_packages(allocate.__path__, "allocate.")
                if not m.name.endswith("__main__")
            )
            found = providers.Constants()
            for module in [allocate, *(importlib.import_module(n) for n in names)]:
                found |= constants_from_module(module)
            frozen.append(
                providers.Constants(
                    integers=providers.SortedSet(found.integers),
                    floats=providers.SortedSet(found.floats, key=providers.float_to_int),
                    bytes=providers.SortedSet(found.bytes),
                    strings=providers.SortedSet(found.strings),
                )
            )
        return frozen[0]

    providers._get_local_constants = allocate_constants
    providers.CONSTANTS_CACHE.cache.clear()


_freeze_hypothesis_constants()


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of examples/small_round (the CSV folder format) to edit."""
    dest = tmp_path / "round"
    shutil.copytree(EXAMPLES / "small_round", dest)
    return dest


def edit_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a CSV file (row as a spreadsheet numbers it: header is row 1)."""
    records = list(csv.reader(path.open(encoding="utf-8", newline="")))
    records[row - 1][records[0].index(column)] = value
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(records)


GIVING_SCHEMA = Path(__file__).resolve().parent / "data" / "360giving"


def giving_validator() -> Any:
    """A validator of 360Giving JSON packages (the 1.4 package and grant schemas in tests/data)."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    package_schema = json.loads(
        (GIVING_SCHEMA / "360-giving-package-schema.json").read_text(encoding="utf-8")
    )
    grant_schema = json.loads((GIVING_SCHEMA / "360-giving-schema.json").read_text(encoding="utf-8"))
    grant_ref = package_schema["properties"]["grants"]["items"]["$ref"]
    resource = Resource.from_contents(grant_schema, default_specification=DRAFT202012)
    registry = Registry().with_resources([(grant_ref, resource), (grant_schema["$id"], resource)])
    # The schema's oneOf(date-time, YYYY-MM-DD) needs date-time checked; jsonschema checks it only
    # with an optional package, so a strict ISO check is registered here.
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        return not isinstance(value, str) or ("T" in value and datetime.fromisoformat(value) is not None)

    return jsonschema.Draft202012Validator(package_schema, registry=registry, format_checker=checker)
