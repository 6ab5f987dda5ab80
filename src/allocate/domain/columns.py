"""The applications of a round as columns: the arrays compile reads, one entry per application.

A Problem made from columns (`Problem.from_columns`) carries these from the start and makes its
Application objects only when `problem.applications` is first read (`Unbuilt`); a Problem made
from objects derives them once, on first use. Either way `columns_of(problem)` is where compile
and the rules look, so building a national round never has to touch 173,000 pydantic objects.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from allocate.domain.parts import Application, PanelScores, Round, Variant


@dataclass(frozen=True, eq=False)
class Ragged:
    """Rows of varying length over integer codes: row i is ``idx[ptr[i]:ptr[i + 1]]``."""

    ptr: np.ndarray
    idx: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.ptr)

    @property
    def row_of(self) -> np.ndarray:
        """The row of each entry of `idx`."""
        return np.repeat(np.arange(len(self.ptr) - 1), self.lengths)

    def take(self, rows: np.ndarray) -> Ragged:
        """The rows listed, in that order (a row may repeat)."""
        lengths = self.lengths[rows]
        ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        within = np.arange(int(ptr[-1])) - np.repeat(ptr[:-1], lengths)
        return Ragged(ptr, self.idx[np.repeat(self.ptr[:-1][rows], lengths) + within])

    @classmethod
    def of(cls, rows: list[tuple[int, ...]] | list[list[int]]) -> Ragged:
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        idx = np.fromiter((k for r in rows for k in r), dtype=np.int64, count=int(ptr[-1]))
        return cls(ptr, idx)


@dataclass(frozen=True, eq=False)
class VariantColumns:
    """The negotiated variants, grouped by application (`parent` never decreases).

    ``has_*`` marks a field the variant states; elsewhere it inherits the application's.
    """

    parent: np.ndarray
    ids: list[str]
    cost: np.ndarray
    profile: np.ndarray
    has_profile: np.ndarray
    outcome: np.ndarray
    has_outcome: np.ndarray
    social: np.ndarray
    has_social: np.ndarray
    beneficiaries: np.ndarray
    has_beneficiaries: np.ndarray
    districts: Ragged
    has_districts: np.ndarray
    district_names: list[tuple[str, ...] | None]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls, years: int, width: int) -> VariantColumns:
        """No variants (`years` budget years, `width` social objectives)."""
        ints = np.zeros(0, dtype=np.int64)
        flags = np.zeros(0, dtype=bool)
        return cls(
            parent=ints,
            ids=[],
            cost=ints,
            profile=np.zeros((0, years), dtype=np.int64),
            has_profile=flags,
            outcome=np.zeros(0),
            has_outcome=flags,
            social=np.zeros((0, width)),
            has_social=flags,
            beneficiaries=ints,
            has_beneficiaries=flags,
            districts=Ragged(np.zeros(1, dtype=np.int64), ints),
            has_districts=flags,
            district_names=[],
        )


@dataclass(frozen=True, eq=False)
class Columns:
    """Every application of a round, field by field (see `Application`).

    Numbers are numpy arrays (``profile`` is n × budget years, ``social`` n × objectives; a row
    without ``has_*`` set holds zeros); districts and client groups are also codes into the
    problem's lists (``districts`` empty: county-wide). Text and lists of text stay Python lists.
    """

    ids: list[str]
    organisation: list[str]
    title: list[str]
    client_groups: Ragged
    group_names: list[tuple[str, ...]]
    districts: Ragged
    district_names: list[tuple[str, ...]]
    cost: np.ndarray
    profile: np.ndarray
    has_profile: np.ndarray
    outcome: np.ndarray
    social: np.ndarray
    panel: list[str]
    beneficiaries: np.ndarray
    has_beneficiaries: np.ndarray
    equality_groups: list[tuple[str, ...]]
    continues_service: np.ndarray
    tags: list[tuple[str, ...]]
    panel_scores: dict[int, dict[str, float]]
    """Only the applications that have scores from other panels, by position."""
    variants: VariantColumns

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def position(self) -> dict[str, int]:
        """Each application's position, by id."""
        return dict(zip(self.ids, range(len(self.ids)), strict=True))

    @cached_property
    def variant_ranges(self) -> np.ndarray:
        """Application i's variants are rows ``variant_ranges[i]:variant_ranges[i + 1]``."""
        counts = np.bincount(self.variants.parent, minlength=len(self)) if len(self) else np.zeros(0)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def frozen(values: np.ndarray) -> np.ndarray:
    """A read-only copy: a Problem's columns never change, whatever happens to its input."""
    out = np.array(values)
    out.flags.writeable = False
    return out


# ---------------------------------------------------------------------------- objects -> columns


def from_applications(
    applications: tuple[Application, ...], district_ids: list[str], group_ids: list[str], years: int
) -> Columns:
    """The columns of validated Application objects (one pass over them)."""
    d_pos = {d: i for i, d in enumerate(district_ids)}
    g_pos = {g: i for i, g in enumerate(group_ids)}
    n = len(applications)
    profiles = [a.cost_profile for a in applications]
    beneficiaries = [a.beneficiaries for a in applications]
    parents: list[int] = []
    variants: list[Variant] = []
    for i, a in enumerate(applications):
        for v in a.variants:
            parents.append(i)
            variants.append(v)
    width = len(applications[0].social_scores) if n else 0
    return Columns(
        ids=[a.id for a in applications],
        organisation=[a.organisation for a in applications],
        title=[a.title for a in applications],
        client_groups=Ragged.of([[g_pos[g] for g in a.client_groups] for a in applications]),
        group_names=[a.client_groups for a in applications],
        districts=Ragged.of([[d_pos[d] for d in a.districts] for a in applications]),
        district_names=[a.districts for a in applications],
        cost=np.array([a.cost for a in applications], dtype=np.int64),
        profile=_filled(profiles, n, years, np.int64),
        has_profile=np.array([p is not None for p in profiles], dtype=bool),
        outcome=np.array([a.outcome_score for a in applications], dtype=np.float64),
        social=np.array([a.social_scores for a in applications], dtype=np.float64).reshape(n, width),
        panel=[a.panel for a in applications],
        beneficiaries=np.array([b or 0 for b in beneficiaries], dtype=np.int64),
        has_beneficiaries=np.array([b is not None for b in beneficiaries], dtype=bool),
        equality_groups=[a.equality_groups for a in applications],
        continues_service=np.array([a.continues_service for a in applications], dtype=bool),
        tags=[a.tags for a in applications],
        panel_scores={i: dict(a.panel_scores) for i, a in enumerate(applications) if a.panel_scores},
        variants=_variant_columns(variants, parents, d_pos, years, width),
    )


def _variant_columns(
    variants: list[Variant], parents: list[int], d_pos: dict[str, int], years: int, width: int
) -> VariantColumns:
    m = len(variants)
    profiles = [v.cost_profile for v in variants]
    outcomes = [v.outcome_score for v in variants]
    social = [v.social_scores for v in variants]
    beneficiaries = [v.beneficiaries for v in variants]
    districts = [v.districts for v in variants]
    return VariantColumns(
        parent=np.array(parents, dtype=np.int64),
        ids=[v.id for v in variants],
        cost=np.array([v.cost for v in variants], dtype=np.int64),
        profile=_filled(profiles, m, years, np.int64),
        has_profile=np.array([p is not None for p in profiles], dtype=bool),
        outcome=np.array([0.0 if s is None else s for s in outcomes], dtype=np.float64),
        has_outcome=np.array([s is not None for s in outcomes], dtype=bool),
        social=_filled(social, m, width, np.float64),
        has_social=np.array([s is not None for s in social], dtype=bool),
        beneficiaries=np.array([b or 0 for b in beneficiaries], dtype=np.int64),
        has_beneficiaries=np.array([b is not None for b in beneficiaries], dtype=bool),
        districts=Ragged.of([[d_pos[d] for d in ds or ()] for ds in districts]),
        has_districts=np.array([ds is not None for ds in districts], dtype=bool),
        district_names=districts,
    )


def _filled(rows: list[Any], n: int, width: int, dtype: type) -> np.ndarray:
    """n × width array of the rows given (None: zeros)."""
    out: np.ndarray = np.zeros((n, width), dtype=dtype)
    given = [i for i, r in enumerate(rows) if r is not None]
    if given:
        out[given] = np.array([rows[i] for i in given], dtype=dtype).reshape(len(given), width)
    return out


# ---------------------------------------------------------------------------- columns -> objects


def materialise(columns: Columns) -> tuple[Application, ...]:
    """The Application objects of validated columns, equal to those the same round validated
    object by object would hold."""
    with _collector_paused():
        return _applications(columns)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while many acyclic objects are made: every full
    collection on the way walks all the objects made so far (two thirds of the time at 173,000)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _applications(columns: Columns) -> tuple[Application, ...]:
    n = len(columns)
    v = columns.variants
    made = _variants(v)
    ranges = columns.variant_ranges.tolist()
    by_field: dict[str, Any] = {
        "id": columns.ids,
        "organisation": columns.organisation,
        "title": columns.title,
        "client_groups": columns.group_names,
        "districts": columns.district_names,
        "cost": columns.cost.tolist(),
        "cost_profile": _tuples(columns.profile, columns.has_profile),
        "outcome_score": columns.outcome.tolist(),
        "social_scores": list(map(tuple, columns.social.tolist())),
        "panel": columns.panel,
        "beneficiaries": _optional(columns.beneficiaries, columns.has_beneficiaries),
        "equality_groups": columns.equality_groups,
        "continues_service": columns.continues_service.tolist(),
        "variants": [tuple(made[ranges[i] : ranges[i + 1]]) for i in range(n)],
        "tags": columns.tags,
        "panel_scores": [PanelScores(columns.panel_scores.get(i, {})) for i in range(n)],
    }
    fields = tuple(Application.model_fields)
    rows = zip(*(by_field[f] for f in fields), strict=True)
    return tuple(_construct(Application, dict(zip(fields, row, strict=True))) for row in rows)


def _variants(v: VariantColumns) -> list[Variant]:
    by_field: dict[str, Any] = {
        "id": v.ids,
        "cost": v.cost.tolist(),
        "cost_profile": _tuples(v.profile, v.has_profile),
        "outcome_score": _optional(v.outcome, v.has_outcome),
        "social_scores": _tuples(v.social, v.has_social),
        "districts": v.district_names,
        "beneficiaries": _optional(v.beneficiaries, v.has_beneficiaries),
    }
    fields = tuple(Variant.model_fields)
    rows = zip(*(by_field[f] for f in fields), strict=True)
    return [_construct(Variant, dict(zip(fields, row, strict=True))) for row in rows]


def _tuples(values: np.ndarray, given: np.ndarray) -> list[tuple[Any, ...] | None]:
    return [tuple(r) if g else None for r, g in zip(values.tolist(), given.tolist(), strict=True)]


def _optional(values: np.ndarray, given: np.ndarray) -> list[Any]:
    return [x if g else None for x, g in zip(values.tolist(), given.tolist(), strict=True)]


def _construct(cls: Any, values: dict[str, Any]) -> Any:
    """An instance of a validated model from values already validated: what `model_construct`
    does, without its per-field Python loop (a quarter of the time, at 173,000 applications)."""
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


# ---------------------------------------------------------------------------- a Problem's columns


class Unbuilt:
    """A Problem's applications before they are first read: its columns, made into Application
    objects on demand (once, thread-safe). Compares, hashes and pickles as the tuple it stands for.
    """

    __slots__ = ("_built", "_lock", "columns")

    def __init__(self, columns: Columns) -> None:
        self.columns = columns
        self._built: tuple[Application, ...] | None = None
        self._lock = threading.Lock()

    def build(self) -> tuple[Application, ...]:
        with self._lock:
            if self._built is None:
                self._built = materialise(self.columns)
            return self._built

    def __len__(self) -> int:
        return len(self.columns)

    def __eq__(self, other: object) -> bool:
        return self.build() == (other.build() if isinstance(other, Unbuilt) else other)

    def __hash__(self) -> int:
        return hash(self.build())

    def __repr__(self) -> str:
        return repr(self.build())

    def __reduce__(self) -> tuple[type[Unbuilt], tuple[Columns]]:
        return (Unbuilt, (self.columns,))


class _Cached:
    """The columns derived from a Problem's applications, and the tuple they came from.

    Compared by identity, so Problem's equality never compares arrays."""

    __slots__ = ("columns", "source")

    def __init__(self, source: object, columns: Columns) -> None:
        self.source = source
        self.columns = columns


CACHE = "_allocate_columns"
"""The key of `_Cached` in a Problem's ``__dict__`` (a leading underscore: never a field)."""


def columns_of(problem: Round) -> Columns:
    """The problem's applications as columns (derived once from the objects if need be)."""
    state = problem.__dict__
    applications = state["applications"]
    if isinstance(applications, Unbuilt):
        return applications.columns
    cached = state.get(CACHE)
    if isinstance(cached, _Cached) and cached.source is applications:
        return cached.columns
    columns = from_applications(
        applications,
        [d.id for d in problem.districts],
        [g.id for g in problem.client_groups],
        problem.budget.years,
    )
    state[CACHE] = _Cached(applications, columns)
    return columns


def built(problem: Round) -> tuple[Application, ...]:
    """The problem's applications as objects, made from its columns if not made yet."""
    state = problem.__dict__
    applications = state["applications"]
    if isinstance(applications, Unbuilt):
        made = applications.build()
        state["applications"] = made
        state[CACHE] = _Cached(made, applications.columns)
        return made
    return applications  # type: ignore[no-any-return]


def application_tags(problem: Round) -> list[tuple[str, ...]] | Iterator[tuple[str, ...]]:
    """Each application's own tags, without making the Application objects."""
    applications = problem.__dict__["applications"]
    if isinstance(applications, Unbuilt):
        return applications.columns.tags
    return (a.tags for a in applications)


def _known(problem: Round) -> Columns | None:
    """The problem's columns if it has them already (made from columns, or derived before)."""
    state = problem.__dict__
    applications = state["applications"]
    if isinstance(applications, Unbuilt):
        return applications.columns
    cached = state.get(CACHE)
    return cached.columns if isinstance(cached, _Cached) and cached.source is applications else None


def application_ids(problem: Round) -> Collection[str]:
    """The ids of the problem's applications, for membership tests."""
    columns = _known(problem)
    return columns.position if columns is not None else {a.id for a in problem.applications}


def organisations(problem: Round) -> set[str]:
    """The organisations that have an application."""
    columns = _known(problem)
    return (
        set(columns.organisation) if columns is not None else {a.organisation for a in problem.applications}
    )


def served_cells(columns: Columns, rows: np.ndarray, n_districts: int, n_groups: int) -> np.ndarray:
    """The district × group cells (as ``district * n_groups + group``) served by the applications
    at `rows` as submitted: every district of a county-wide one."""
    districts = columns.districts.take(rows)
    groups = columns.client_groups.take(rows)
    counts = districts.lengths.copy()
    everywhere = counts == 0
    counts[everywhere] = n_districts
    owner = np.repeat(np.arange(len(rows)), counts)
    place = np.empty(len(owner), dtype=np.int64)
    place[~np.repeat(everywhere, counts)] = districts.idx
    place[np.repeat(everywhere, counts)] = np.tile(np.arange(n_districts), int(everywhere.sum()))
    per = groups.lengths[owner]
    start = np.repeat(groups.ptr[:-1][owner], per)
    within = np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)
    return np.unique(np.repeat(place, per) * n_groups + groups.idx[start + within])
