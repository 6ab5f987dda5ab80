"""Column sources: a mapping of arrays, a pandas DataFrame or a pyarrow Table, read as plain columns.

Duck-typed, so neither pandas nor pyarrow is needed to use the others. A column comes out as a
numpy array when it holds numbers or booleans with nothing missing (a 2-D array stays 2-D: one
row per application), else as a list of Python values with every missing value (None, NaN,
pandas' NA and NaT, Arrow's null) as None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from allocate.domain.errors import InvalidProblemError

Column = np.ndarray | list[Any]

_NUMERIC = "iufb"
"""numpy dtype kinds kept as arrays: signed and unsigned integers, floats, booleans."""


@dataclass(frozen=True)
class Frame:
    """The columns of one table, all of the same length `n`."""

    name: str
    columns: dict[str, Column]
    n: int
    labels: list[Any] | None
    """The rows' index labels (a DataFrame's index), when they are not simply 0..n-1."""

    def label(self, i: int) -> str:
        """How row i is named in an error: its position, and its index label if it has one."""
        return "" if self.labels is None else f", index label {self.labels[i]!r}"


def read_frame(source: Any, name: str) -> Frame:
    """The columns of `source` (see the module docstring); `name` is the argument, for errors."""
    labels: list[Any] | None = None
    if isinstance(source, Mapping):
        columns = {_key(k, name): _column(v, name, k) for k, v in source.items()}
    elif hasattr(source, "column_names") and hasattr(source, "column"):  # pyarrow.Table
        columns = {_key(k, name): _arrow(source.column(k)) for k in source.column_names}
    elif hasattr(source, "columns") and hasattr(source, "iloc"):  # pandas.DataFrame
        keys = [_key(k, name) for k in source.columns]
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise InvalidProblemError((name, dup), "is a column name twice")
        columns = {k: _series(source.iloc[:, i]) for i, k in enumerate(keys)}
        index = list(source.index)
        if index != list(range(len(index))):
            labels = index
    else:
        raise InvalidProblemError(
            (name,),
            f"must be a mapping of column name to array, a pandas DataFrame or a pyarrow Table, "
            f"not {type(source).__name__}",
        )
    lengths = {k: len(c) for k, c in columns.items()}
    n = next(iter(lengths.values()), 0)
    for k, length in lengths.items():
        if length != n:
            first = next(iter(lengths))
            raise InvalidProblemError((name, k), f"has {length} rows but {first} has {n}")
    return Frame(name, columns, n, labels)


def _key(key: object, name: str) -> str:
    if not isinstance(key, str):
        raise InvalidProblemError((name,), f"column names must be text, not {key!r}")
    return key


def _column(value: Any, name: str, key: str) -> Column:
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            raise InvalidProblemError((name, key), "must be a column (one value per row), not one value")
        return (
            value
            if value.dtype.kind in _NUMERIC
            else _listed(value.tolist() if value.ndim == 1 else list(value))
        )
    if hasattr(value, "to_pylist"):  # pyarrow Array or ChunkedArray
        return _arrow(value)
    if hasattr(value, "to_numpy") and hasattr(value, "iloc"):  # pandas Series
        return _series(value)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or not hasattr(value, "__iter__"):
        raise InvalidProblemError(
            (name, key), f"must be a column (one value per row), not {type(value).__name__}"
        )
    return _listed(list(value))


def _series(series: Any) -> Column:
    # pandas' own dtypes (nullable 'Int64', 'boolean', text) go by their Python values: 'Int64'
    # with a gap would come out of to_numpy() as floats.
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in _NUMERIC:
        return np.asarray(series.to_numpy())
    return _listed(list(series.to_numpy(dtype=object)))


def _arrow(array: Any) -> Column:
    if array.null_count == 0:
        try:
            values = array.to_numpy()
        except Exception:  # nested or text types: read as Python values below
            values = None
        if isinstance(values, np.ndarray) and values.dtype.kind in _NUMERIC:
            return values
    return _listed(array.to_pylist())


_PLAIN = frozenset({str, int, bool, tuple, list, dict, type(None)})
"""Types of values that are never a missing value other than None, nor a numpy scalar."""


def _listed(values: list[Any]) -> list[Any]:
    """The values, with every kind of missing value as None (numpy scalars as Python's)."""
    if _PLAIN.issuperset(map(type, values)):
        return values
    return [None if missing(v) else v.item() if isinstance(v, np.generic) else v for v in values]


def missing(value: Any) -> bool:
    """None, a NaN float, or pandas' NA or NaT (known by type name: pandas need not be installed)."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")
