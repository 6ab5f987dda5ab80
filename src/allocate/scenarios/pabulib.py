"""Real participatory budgets from Pabulib (``.pb`` files) as allocate Problems.

A ``.pb`` file has three ``;``-separated sections: META (key;value), PROJECTS (one row
per project: ``project_id;cost;votes;...``) and VOTES (one row per ballot). The Problem
built here is the max-utilitarian-welfare election: fund the projects of greatest total
votes within the budget. With ``value_form="score_sum"``, no social value and
``outcome_max`` = the largest tally, a project's value is ``100·votes/max_votes``, so
maximising value is maximising votes; `pabulib_welfare` reads the welfare back exactly.

Mapping (see also `load_pabulib`):

* project -> Application: id = ``project_id``, organisation = ``project_id`` (Pabulib
  has no proposer for most files), title = ``name``, cost = file amount × 100 as pence;
* districts: the comma-separated values of a project-level ``district``/``subunit``/
  ``neighborhood`` column (a project without one is city-wide), else one district named
  after META ``subunit``/``district``/``unit``. Populations are unknown and set to 1, so a
  multi-district project's money is split evenly;
* client groups: the comma-separated ``category``/``categories`` of each project
  (``uncategorised`` when blank), else one group ``all``;
* budget: META ``budget`` × 100 pence. Other META limits (``max_sum_cost``,
  ``budget_per_category``, ...) are not turned into rules.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from allocate.domain.errors import InvalidProblemError, Loc
from allocate.domain.model import Problem
from allocate.domain.parts import Application, Budget, ClientGroup, District, ScoreScale, Weights
from allocate.engine.result import Allocation

TallySource = Literal["auto", "column", "ballots"]
"""Where a project's outcome score comes from:

* ``"column"``: the ``votes`` column of PROJECTS (the number of voters who supported it);
* ``"ballots"``: the VOTES section: approval count for approval, choose-1 and ordinal
  ballots, summed points for cumulative and scoring ballots;
* ``"auto"`` (default): the ``votes`` column for approval, choose-1 and ordinal files
  (it equals the ballot count), summed ballot points for cumulative and scoring files.
"""

APPROVAL_LIKE = frozenset({"approval", "choose-1", "ordinal"})
POINTS = frozenset({"cumulative", "scoring"})
DISTRICT_COLUMNS = ("district", "subunit", "neighborhood")
CATEGORY_COLUMNS = ("category", "categories")
SECTIONS = frozenset({"meta", "projects", "votes"})
UNCATEGORISED = "uncategorised"
ALL = "all"


class _Reader:
    """One pass over a ``.pb`` file, remembering where it is for error messages."""

    def __init__(self, path: Path, tally: TallySource) -> None:
        self.path = path
        self.tally = tally
        self.line = 0
        self.meta: dict[str, str] = {}
        self.meta_line: dict[str, int] = {}
        self.header: dict[str, list[str]] = {}
        self.header_line: dict[str, int] = {}
        self.projects: list[tuple[int, dict[str, str]]] = []
        self.tallies: dict[str, Decimal] = {}
        self.use_ballots = False
        self.points = False

    def error(self, loc: Loc, reason: str, line: int | None = None) -> InvalidProblemError:
        """An InvalidProblemError at ``file:line`` and `loc` within it, e.g. ``case.pb:9 PROJECTS.cost``
        (no line when line is 0)."""
        at = self.line if line is None else line
        place = f"{self.path.name}:{at}" if at > 0 else self.path.name
        return InvalidProblemError((place, *loc), reason)

    def number(self, text: str, field: Loc, line: int | None = None) -> Decimal:
        try:
            value = Decimal(text.strip().replace(",", "."))
        except InvalidOperation:
            raise self.error(field, f"{text.strip()!r} is not a number", line) from None
        if not value.is_finite():
            raise self.error(field, f"{text.strip()!r} is not a finite number", line)
        return value

    def pence(self, text: str, field: Loc, line: int | None = None) -> int:
        amount = self.number(text, field, line) * 100
        if amount != amount.to_integral_value():
            raise self.error(field, f"{text.strip()!r} has a fraction of a hundredth", line)
        if amount <= 0:
            raise self.error(field, f"{text.strip()!r} must be > 0", line)
        return int(amount)

    def score(self, value: Decimal, field: Loc, line: int, of: str = "") -> float:
        if value < 0:
            raise self.error(field, f"{value} must be >= 0{of}", line)
        score = float(value)
        if Decimal(repr(score)) != value:
            raise self.error(field, f"{value} cannot be held exactly as a float{of}", line)
        return score

    def read(self) -> None:
        """Parse META and PROJECTS, and VOTES when the tallies come from the ballots."""
        section = ""
        expect_header = False
        with self.path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=";")
            for row in reader:
                self.line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                head = row[0].strip().lower()
                if head in SECTIONS and all(not cell.strip() for cell in row[1:]):
                    section, expect_header = head, True
                    continue
                if not section:
                    raise self.error(
                        ("section",), f"expected META, PROJECTS or VOTES, got {row[0].strip()!r}"
                    )
                if expect_header:
                    expect_header = False
                    self.header[section] = [cell.strip() for cell in row]
                    self.header_line[section] = self.line
                    if section == "votes" and not self._start_votes():
                        break
                    continue
                cols = self.header[section]
                if len(row) > len(cols):
                    raise self.error(
                        (section.upper(),), f"row has {len(row)} fields but the header has {len(cols)}"
                    )
                if section == "meta":
                    self._meta(row)
                elif section == "projects":
                    self._project(dict(zip(cols, row, strict=False)))
                else:
                    self._ballot(dict(zip(cols, row, strict=False)))
        self.line = 0
        if "budget" not in self.meta:
            raise self.error(("META", "budget"), "is missing")
        if not self.projects:
            raise self.error(("PROJECTS",), "has no projects")
        if "votes" not in self.header:
            self._decide()
            if self.use_ballots:
                raise self.error(("VOTES",), "section is missing but the tallies come from the ballots")

    def _meta(self, row: list[str]) -> None:
        key = row[0].strip()
        if len(row) < 2:
            raise self.error(("META", key), "has no value")
        self.meta[key] = row[1].strip()
        self.meta_line[key] = self.line

    def _project(self, record: dict[str, str]) -> None:
        pid = record.get("project_id", "").strip()
        if not pid:
            raise self.error(("PROJECTS", "project_id"), "is missing")
        if pid in self.tallies:
            raise self.error(("PROJECTS", "project_id"), f"duplicate project {pid!r}")
        self.tallies[pid] = Decimal(0)
        self.projects.append((self.line, record))

    def _decide(self) -> None:
        vote_type = self.meta.get("vote_type", "approval").strip().lower()
        if vote_type not in APPROVAL_LIKE | POINTS:
            raise self.error(
                ("META", "vote_type"), f"unknown vote type {vote_type!r}", self.meta_line.get("vote_type", 0)
            )
        self.points = vote_type in POINTS
        has_column = "votes" in self.header.get("projects", [])
        if self.tally == "auto":
            self.use_ballots = self.points or not has_column
        else:
            self.use_ballots = self.tally == "ballots"
        if not self.use_ballots and not has_column:
            raise self.error(("PROJECTS", "votes"), "column is missing", self.header_line.get("projects", 0))

    def _start_votes(self) -> bool:
        """Check the VOTES header; False when the ballots are not needed (stop reading)."""
        if "projects" not in self.header:
            raise self.error(("VOTES",), "comes before PROJECTS")
        self._decide()
        cols = self.header["votes"]
        if self.use_ballots and "vote" not in cols:
            raise self.error(("VOTES", "vote"), "column is missing")
        if self.use_ballots and self.points and "points" not in cols:
            raise self.error(("VOTES", "points"), "column is missing for a points ballot")
        return self.use_ballots

    def _ballot(self, record: dict[str, str]) -> None:
        ids = [p.strip() for p in record.get("vote", "").split(",") if p.strip()]
        unknown = [p for p in ids if p not in self.tallies]
        if unknown:
            raise self.error(("VOTES", "vote"), f"unknown project {unknown[0]!r}")
        if self.points:
            raw = [p for p in record.get("points", "").split(",") if p.strip()]
            if len(raw) != len(ids):
                raise self.error(("VOTES", "points"), f"has {len(raw)} values for {len(ids)} projects")
            for pid, text in zip(ids, raw, strict=True):
                self.tallies[pid] += self.number(text, ("VOTES", "points"))
        else:
            for pid in dict.fromkeys(ids):  # a ballot approves a project once
                self.tallies[pid] += 1

    def problem(self) -> Problem:
        """The Problem of the file read."""
        cols = self.header["projects"]
        district_col = _column(cols, DISTRICT_COLUMNS)
        category_col = _column(cols, CATEGORY_COLUMNS)
        meta = self.meta
        place = next((meta[k] for k in ("subunit", "district", "unit") if not _blank(meta.get(k))), ALL)
        district_ids: dict[str, None] = {} if district_col else {place: None}
        group_ids: dict[str, None] = {} if category_col else {ALL: None}
        apps: list[Application] = []
        for line, rec in self.projects:
            pid = rec["project_id"].strip()
            cost = self.pence(rec.get("cost", ""), ("PROJECTS", "cost"), line)
            if self.use_ballots:
                score = self.score(self.tallies[pid], ("VOTES",), line, f" (total of project {pid!r})")
            else:
                votes = self.number(rec.get("votes", ""), ("PROJECTS", "votes"), line)
                score = self.score(votes, ("PROJECTS", "votes"), line)
            districts: tuple[str, ...] = (place,)
            if district_col:
                districts = _split(rec.get(district_col))
            groups: tuple[str, ...] = (ALL,)
            if category_col:
                groups = _split(rec.get(category_col)) or (UNCATEGORISED,)
            district_ids.update(dict.fromkeys(districts))
            group_ids.update(dict.fromkeys(groups))
            try:
                apps.append(
                    Application(
                        id=pid,
                        organisation=pid,
                        title=(rec.get("name") or "").strip(),
                        client_groups=groups,
                        districts=districts,
                        cost=cost,
                        outcome_score=score,
                    )
                )
            except InvalidProblemError as exc:
                # the project's columns are the Application's fields
                raise self.error(("PROJECTS", *exc.loc[1:]), exc.reason, line) from None
        budget = self.pence(meta["budget"], ("META", "budget"), self.meta_line["budget"])
        try:
            return Problem(
                name=self.path.stem,
                applications=tuple(apps),
                districts=tuple(District(id=d, population=1) for d in district_ids),
                client_groups=tuple(ClientGroup(id=g) for g in group_ids),
                budget=Budget(total=budget),
                weights=Weights(value_form="score_sum", social_value_share=0.0),
                scale=ScoreScale(outcome_max=max(max(a.outcome_score for a in apps), 1.0)),
            )
        except InvalidProblemError as exc:
            raise self.error(exc.loc, exc.reason, 0) from None


def _blank(value: str | None) -> bool:
    return value is None or value.strip() == "" or value.strip().lower() == "none"


def _split(value: str | None) -> tuple[str, ...]:
    """The distinct comma-separated names of a cell (none for a blank or ``none`` cell)."""
    if value is None or _blank(value):
        return ()
    return tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


def _column(header: list[str], names: Iterable[str]) -> str | None:
    return next((name for name in names if name in header), None)


def load_pabulib(path: str | Path, *, tally: TallySource = "auto") -> Problem:
    """Read a Pabulib ``.pb`` file into the max-welfare Problem (see the module docstring).

    `tally` says where the votes come from (see `TallySource`). Raises InvalidProblemError
    naming the file, line and field of anything malformed.
    """
    reader = _Reader(Path(path), tally)
    reader.read()
    return reader.problem()


def total_outcome_score(funded: Allocation | Iterable[str], problem: Problem) -> Decimal:
    """Exact sum of the outcome scores of the funded applications (ids or an Allocation).

    Scores are summed as decimals (each float's shortest repr), so integer and short
    decimal scores read from a file add up without rounding error.
    """
    ids = funded.funded if isinstance(funded, Allocation) else frozenset(funded)
    by_id = {a.id: a.outcome_score for a in problem.applications}
    unknown = sorted(i for i in ids if i not in by_id)
    if unknown:
        raise KeyError(f"unknown application {unknown[0]!r}")
    return sum((Decimal(repr(by_id[i])) for i in ids), Decimal(0))


def pabulib_welfare(funded: Allocation | Iterable[str], problem: Problem) -> Decimal:
    """The utilitarian welfare (total votes or points) of the funded projects, exactly."""
    return total_outcome_score(funded, problem)
