"""Vectorised screens of columns: each field's rules tested on whole arrays.

A screen reads one column (see `allocate.domain.frames`; None: the column is absent) and returns its
values in the form a round's columns hold, with `bad`: the rows that may break a rule of the
field's type (`allocate.domain.schema`: strict types, ranges, text a file can store, no item twice; a
profile summing to the cost). A screen may flag a valid row (the object-by-object check then
clears it) but never passes an invalid one. A flagged row's values are placeholders.
`applications` and `variants` screen every column of their table.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from allocate.domain.frames import Column, Frame
from allocate.domain.parts import Application
from allocate.domain.schema import MAX_COUNT, MAX_PENCE, MAX_SCORE, MAX_TEXT, unstorable

NAME_MAX = 200
"""The longest id or name (`allocate.domain.schema.Name`)."""
DEFAULT_SOCIAL: tuple[float, ...] = Application.model_fields["social_scores"].default
_INT64_MAX = np.iinfo(np.int64).max
_SEQUENCES = (tuple, list, np.ndarray)
"""What a cell holding a list may be (anything else is checked object by object)."""


# ---------------------------------------------------------------------------- tables


def applications(frame: Frame) -> tuple[dict[str, Any], np.ndarray]:
    """Every column of the applications table: screened values by field, and the rows flagged.

    Scores from other panels (a mapping per row, rare) are left to the object-by-object check."""
    n, c = frame.n, frame.columns
    out: dict[str, Any] = {}
    bad = np.zeros(n, dtype=bool)
    for name in ("id", "organisation"):
        out[name], b = text(c[name], n, required=True, name=True)
        bad |= b
    for name in ("title", "panel"):
        out[name], b = text(c.get(name), n, required=False, name=False, limit=MAX_TEXT)
        bad |= b
    for name, key in (
        ("client_groups", True),
        ("districts", True),
        ("equality_groups", True),
        ("tags", False),
    ):
        out[name] = lists = name_lists(c.get(name), n, required=name == "client_groups", key=key)
        bad |= lists.bad
    out["cost"], _, cost_bad = integers(c["cost"], n, required=True, lo=1, hi=MAX_PENCE)
    out["cost_profile"] = profile = number_rows(c.get("cost_profile"), n, integer=True, lo=0, hi=MAX_PENCE)
    bad |= cost_bad | profile.bad | _unbalanced(profile, out["cost"], cost_bad)
    out["outcome_score"], _, b = numbers(c["outcome_score"], n, required=True, lo=0, hi=MAX_SCORE)
    bad |= b
    social = c.get("social_scores")
    if social is None:
        social = np.zeros((n, len(DEFAULT_SOCIAL)))
    elif isinstance(social, list) and None in social:
        social = [DEFAULT_SOCIAL if v is None else v for v in social]
    out["social_scores"] = rows = number_rows(social, n, integer=False, lo=0, hi=MAX_SCORE)
    bad |= rows.bad
    out["beneficiaries"] = integers(c.get("beneficiaries"), n, required=False, lo=0, hi=MAX_COUNT)
    bad |= out["beneficiaries"][2]
    out["continues_service"], b = flags(c.get("continues_service"), n)
    bad |= b
    return out, bad


def variants(frame: Frame, parents: np.ndarray, app_ids: list[str]) -> tuple[dict[str, Any], np.ndarray]:
    """Every column of the variants table (grouped by application: `parents`), and the rows flagged;
    a variant's id must be unique within its application and differ from the application's."""
    m, c = frame.n, frame.columns
    out: dict[str, Any] = {}
    out["id"], bad = text(c["id"], m, required=True, name=True)
    out["cost"], _, cost_bad = integers(c["cost"], m, required=True, lo=1, hi=MAX_PENCE)
    out["cost_profile"] = profile = number_rows(c.get("cost_profile"), m, integer=True, lo=0, hi=MAX_PENCE)
    bad |= cost_bad | profile.bad | _unbalanced(profile, out["cost"], cost_bad)
    out["outcome_score"] = numbers(c.get("outcome_score"), m, required=False, lo=0, hi=MAX_SCORE)
    out["social_scores"] = number_rows(c.get("social_scores"), m, integer=False, lo=0, hi=MAX_SCORE)
    out["districts"] = name_lists(c.get("districts"), m, required=False, key=True)
    out["beneficiaries"] = integers(c.get("beneficiaries"), m, required=False, lo=0, hi=MAX_COUNT)
    bad |= out["outcome_score"][2] | out["social_scores"].bad | out["districts"].bad | out["beneficiaries"][2]
    ids = list(dict.fromkeys(out["id"]))
    code = np.fromiter(map({v: k for k, v in enumerate(ids)}.__getitem__, out["id"]), dtype=np.int64, count=m)
    ptr = np.searchsorted(parents, np.arange(len(app_ids) + 1))
    bad |= repeats(ptr, code, len(ids))[np.repeat(np.arange(len(app_ids)), np.diff(ptr))]
    bad |= np.array(out["id"], dtype=object) == np.array(app_ids, dtype=object)[parents]
    return out, bad


def _unbalanced(profile: Rows, cost: np.ndarray, cost_bad: np.ndarray) -> np.ndarray:
    """Rows whose yearly amounts do not sum to the cost (where both are otherwise valid)."""
    return profile.given & ~profile.bad & ~cost_bad & (profile.sums() != cost)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- text


def text(
    values: Column | None, n: int, *, required: bool, name: bool, key: bool = False, limit: int = NAME_MAX
) -> tuple[list[str], np.ndarray]:
    """Text: `name` an id (1..200 characters, no surrounding spaces), else free text (up to
    `limit` characters); `key` forbids ';'. Missing optional text is ""."""
    if values is None:
        return [""] * n, np.full(n, required)
    if isinstance(values, np.ndarray):
        return [""] * n, np.ones(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    out: list[Any] = values
    if not {str}.issuperset(map(type, values)):
        bad = np.fromiter((type(v) is not str and (required or v is not None) for v in values), bool, n)
        out = [v if type(v) is str else "" for v in values]
    lengths = np.fromiter(map(len, out), dtype=np.int64, count=n)
    bad |= lengths > limit
    if name:
        bad |= lengths < 1
        bad |= np.fromiter(map(operator.ne, out, map(str.strip, out)), dtype=bool, count=n)
    joined = "".join(out)  # one search of all the text: joining makes no character
    if _unstorable(joined) or (key and ";" in joined):
        bad |= np.fromiter((_unstorable(v) or (key and ";" in v) for v in out), bool, n)
    return out, bad


def _unstorable(text: str) -> bool:
    """Whether `text` holds a character no file can store (`allocate.domain.schema.unstorable`). Every
    such character is unprintable, and `str.isprintable` clears most text at C speed."""
    return not text.isprintable() and unstorable(text) is not None


def _valid_name(v: Any, key: bool) -> bool:
    return (
        type(v) is str
        and 0 < len(v) <= NAME_MAX
        and v == v.strip()
        and not _unstorable(v)
        and not (key and ";" in v)
    )


@dataclass(frozen=True)
class Lists:
    """A column of lists of names: each row as a tuple, and as codes into `distinct`."""

    rows: list[tuple[Any, ...]]
    ptr: np.ndarray
    codes: np.ndarray
    distinct: list[Any]
    given: np.ndarray
    """Rows not missing (None): a variant without districts inherits its application's."""
    bad: np.ndarray


def name_lists(values: Column | None, n: int, *, required: bool, key: bool) -> Lists:
    """Lists of names (`key`: no ';' either), none twice in a row; `required`: at least one.

    Most rows repeat a few lists (the same districts, the same groups), so each distinct list
    is coded and checked once."""
    zero = np.zeros(n, dtype=np.int64)
    if values is None:
        return _lists([()] * n, [()], zero, np.zeros(n, dtype=bool), np.full(n, required), required, key)
    if isinstance(values, np.ndarray):
        return _lists([()] * n, [()], zero, np.ones(n, dtype=bool), np.ones(n, dtype=bool), required, key)
    given = np.ones(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    rows: list[Any] = values
    if not {tuple}.issuperset(map(type, values)):
        given = np.fromiter((v is not None for v in values), dtype=bool, count=n)
        bad |= required & ~given
        rows = [_as_row(v) for v in values]
        wrong = [i for i, r in enumerate(rows) if r is None]
        bad[wrong] = True
        for i in wrong:
            rows[i] = ()
    try:
        distinct_rows = dict.fromkeys(rows)
    except TypeError:  # an unhashable item (a list in a list): that row is bad
        for i, r in enumerate(rows):
            if not _hashable(r):
                rows[i], bad[i] = (), True
        distinct_rows = dict.fromkeys(rows)
    found = list(distinct_rows)
    row_code = {r: k for k, r in enumerate(found)}
    which = np.fromiter(map(row_code.__getitem__, rows), dtype=np.int64, count=n)
    return _lists(rows, found, which, given, bad, required, key)


def _as_row(value: Any) -> tuple[Any, ...] | None:
    """A cell of a column of lists as a tuple: () for None, None if it holds no list."""
    if value is None:
        return ()
    if type(value) is tuple:
        return value
    return tuple(value) if type(value) in _SEQUENCES else None


def _lists(
    rows: list[tuple[Any, ...]],
    found: list[tuple[Any, ...]],
    which: np.ndarray,
    given: np.ndarray,
    bad: np.ndarray,
    required: bool,
    key: bool,
) -> Lists:
    """Code and check each distinct list in `found` once (row i is ``found[which[i]]``), then
    expand to the rows: a list is flawed with an invalid name, a name twice, or (`required`) none."""
    names = list(dict.fromkeys(chain.from_iterable(found)))
    code = {d: k for k, d in enumerate(names)}
    lengths = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
    ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    codes = np.fromiter(map(code.__getitem__, chain.from_iterable(found)), dtype=np.int64, count=int(ptr[-1]))
    flawed = repeats(ptr, codes, len(names))
    invalid = np.array([not _valid_name(d, key) for d in names], dtype=bool)
    if invalid.any():
        owner = np.repeat(np.arange(len(found)), lengths)
        flawed |= np.bincount(owner[invalid[codes]], minlength=len(found)) > 0
    if required:
        flawed |= lengths == 0
    return Lists(rows, *_expand(ptr, codes, which), names, given, bad | flawed[which])


def _expand(ptr: np.ndarray, codes: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (ptr, codes) of the rows ``which`` of the lists (ptr, codes)."""
    lengths = np.diff(ptr)[which]
    out_ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    within = np.arange(int(out_ptr[-1])) - np.repeat(out_ptr[:-1], lengths)
    return out_ptr, codes[np.repeat(ptr[:-1][which], lengths) + within]


def _hashable(row: Any) -> bool:
    try:
        hash(row)
    except TypeError:
        return False
    return True


def repeats(ptr: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Rows (row i: ``codes[ptr[i]:ptr[i + 1]]``) listing some code twice."""
    n = len(ptr) - 1
    row = np.repeat(np.arange(n), np.diff(ptr))
    pairs = np.sort(row * max(k, 1) + codes)
    out = np.zeros(n, dtype=bool)
    out[pairs[1:][pairs[1:] == pairs[:-1]] // max(k, 1)] = True
    return out


# ---------------------------------------------------------------------------- numbers


def integers(
    values: Column | None, n: int, *, required: bool, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strict integers (no bool, no float however whole) in lo..hi: (values, given, bad)."""
    if values is None:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool), np.full(n, required)
    given = np.ones(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    if isinstance(values, np.ndarray):
        if values.ndim == 1 and values.dtype.kind == "f" and not required:
            given = ~np.isnan(values)  # gaps in a column of numbers; a number there is a float
            return np.zeros(n, dtype=np.int64), given, given.copy()
        if values.ndim != 1 or values.dtype.kind not in "iu":
            return np.zeros(n, dtype=np.int64), given, np.ones(n, dtype=bool)
        big = values > _INT64_MAX if values.dtype.kind == "u" else bad
        ints = np.where(big, 0, values).astype(np.int64)
        return ints, given, big | (ints < lo) | (ints > hi)
    out = _all_of(values, np.int64, {int})
    if out is None:  # something other than an int, or an int past 64 bits: one by one
        out = np.zeros(n, dtype=np.int64)
        for i, v in enumerate(values):
            if v is None:
                given[i], bad[i] = False, required
            elif type(v) is int and -_INT64_MAX <= v <= _INT64_MAX:
                out[i] = v
            else:
                bad[i] = True
    return out, given, bad | (given & ((out < lo) | (out > hi)))


def numbers(
    values: Column | None, n: int, *, required: bool, lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strict finite numbers (int or float, no bool) in lo..hi: (values as float, given, bad)."""
    if values is None:
        return np.zeros(n), np.zeros(n, dtype=bool), np.full(n, required)
    given = np.ones(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or values.dtype.kind not in "iuf":
            return np.zeros(n), given, np.ones(n, dtype=bool)
        out = values.astype(np.float64)
        if values.dtype.kind == "f" and not required:
            given = ~np.isnan(out)
    else:
        found = _all_of(values, np.float64, {int, float})
        if found is None:  # something other than a number, or an int past a float: one by one
            found = np.zeros(n)
            for i, v in enumerate(values):
                if v is None:
                    given[i], bad[i] = False, required
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    try:
                        found[i] = float(v)
                    except OverflowError:
                        bad[i] = True
                else:
                    bad[i] = True
        out = found
    with np.errstate(invalid="ignore"):
        inside = np.isfinite(out) & (out >= lo) & (out <= hi)
    return out, given, bad | (given & ~inside)


def _all_of(values: list[Any], dtype: type, kinds: set[type]) -> np.ndarray | None:
    """The values as an array if every one is of `kinds` and fits `dtype`, else None."""
    if not kinds.issuperset(map(type, values)):
        return None
    try:
        return np.array(values, dtype=dtype).reshape(len(values))
    except OverflowError:
        return None


def flags(values: Column | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Strict booleans (missing: False): (values, bad)."""
    if values is None:
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if isinstance(values, np.ndarray):
        if values.ndim == 1 and values.dtype.kind == "b":
            return values.astype(bool), np.zeros(n, dtype=bool)
        return np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
    if {bool}.issuperset(map(type, values)):
        return np.array(values, dtype=bool).reshape(n), np.zeros(n, dtype=bool)
    bad = np.fromiter((v is not None and type(v) is not bool for v in values), bool, n)
    return np.fromiter((v is True for v in values), bool, n), bad


@dataclass(frozen=True)
class Rows:
    """A column of lists of numbers: all items flat, each row's slice, whether given, and bad."""

    flat: np.ndarray
    ptr: np.ndarray
    given: np.ndarray
    bad: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.ptr)

    def sums(self) -> np.ndarray:
        """Each row's sum (exact for integers: the running sum may wrap, the differences do not)."""
        total = np.concatenate([[0], np.cumsum(self.flat)])
        return total[self.ptr[1:]] - total[self.ptr[:-1]]  # type: ignore[no-any-return]

    def table(self, width: int) -> np.ndarray:
        """n × width: the rows of that length (others, and those not given, are zeros)."""
        n = len(self.ptr) - 1
        out = np.zeros((n, width), dtype=self.flat.dtype)
        fits = np.flatnonzero(self.lengths == width)
        if len(fits) and width:
            out[fits] = self.flat[self.ptr[fits][:, None] + np.arange(width)[None, :]]
        return out


def number_rows(values: Column | None, n: int, *, integer: bool, lo: float, hi: float) -> Rows:
    """Lists of strict integers (`integer`) or finite numbers, each in lo..hi; None: not given.
    A 2-D array is one list per row."""
    dtype = np.int64 if integer else np.float64
    if values is None:
        none = np.zeros(n, dtype=bool)
        return Rows(np.zeros(0, dtype=dtype), np.zeros(n + 1, dtype=np.int64), none, none)
    if isinstance(values, np.ndarray):
        width = values.shape[1] if values.ndim == 2 else 0
        ptr = np.arange(n + 1, dtype=np.int64) * width
        if values.ndim != 2 or values.dtype.kind not in ("iu" if integer else "iuf"):
            return Rows(np.zeros(n * width, dtype=dtype), ptr, np.ones(n, dtype=bool), np.ones(n, dtype=bool))
        items: Column = values.reshape(-1)
        given = np.ones(n, dtype=bool)
        wrong: list[int] = []
    else:
        given = np.fromiter((v is not None for v in values), dtype=bool, count=n)
        wrong = [i for i, v in enumerate(values) if v is not None and type(v) not in _SEQUENCES]
        rows = [() if v is None else v for v in values]
        for i in wrong:
            rows[i] = ()
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=n)
        ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        items = list(chain.from_iterable(rows))
        if any(type(r) is np.ndarray for r in rows):
            items = [v.item() if isinstance(v, np.generic) else v for v in items]
    if integer:
        flat, _, item_bad = integers(items, len(items), required=True, lo=int(lo), hi=int(hi))
    else:
        flat, _, item_bad = numbers(items, len(items), required=True, lo=lo, hi=hi)
    bad = np.bincount(np.repeat(np.arange(n), np.diff(ptr))[item_bad], minlength=n) > 0
    bad[wrong] = True
    return Rows(np.where(item_bad, 0, flat).astype(dtype), ptr, given, bad)
