"""The rows a round's rules become: labelled, each with its unit, collected in order.

A rule's ``emit`` writes its rows into a `RowBuilder`: the candidate awards as arrays and
incidence matrices to build rows from, and `add_rows` / `add_aux`, which collect them (`Rows`).
The compiler's `CompileContext` is the one builder (it makes the arrays and matrices, and
assembles the rows into the model); the rows are collected here, where the rules write them,
so that a rule depends on nothing above the domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import scipy.sparse as sp

from allocate.domain.parts import Round
from allocate.domain.tally import Dimension

RowUnit = Literal["pence", "share", "awards", "organisations", "value"]
"""What a row (and its bound) counts: ``pence`` (money), ``share`` (attributed money compared
with a share of the total awarded: still pence), ``awards``, ``organisations``, or ``value``
(the objective, in rows that analyses add, e.g. an ε-constraint)."""
ArrayLike = float | Sequence[float] | np.ndarray


@dataclass
class Rows:
    """The rows added so far, in order: one entry per row (labels, units) or per call (arrays)."""

    labels: list[str] = field(default_factory=list)
    unit: list[str] = field(default_factory=list)
    structural: list[np.ndarray] = field(default_factory=list)
    rule: list[np.ndarray] = field(default_factory=list)
    lo: list[np.ndarray] = field(default_factory=list)
    hi: list[np.ndarray] = field(default_factory=list)
    blocks: list[tuple[int, int, sp.coo_matrix]] = field(default_factory=list)  # (row0, col0, block)


class RowBuilder(Protocol):
    """What a rule sees while it emits its rows; a builder sets every attribute and implements
    the methods without a body (`CompileContext` does)."""

    problem: Round
    n: int
    """Number of candidate awards (the first n variables)."""
    cost: np.ndarray
    outcome: np.ndarray
    social: np.ndarray
    profile: np.ndarray
    organisations: list[str]
    org_matrix: sp.csr_matrix
    rows: Rows
    n_rows: int
    rule_index: int
    """The rule being emitted (its position in ``problem.rules``; negative for the budget's rows)."""
    aux_labels: list[str]
    total_col: int | None

    def keys(self, over: Dimension) -> list[str]: ...
    def money_rows(self, over: Dimension) -> sp.csr_matrix: ...
    def serve_rows(self, over: Dimension) -> sp.csr_matrix: ...
    def options_of(self, application_id: str) -> np.ndarray: ...
    def candidate(self, application_id: str, variant_id: str | None) -> int: ...
    def total(self) -> int:
        """Column of T, the total awarded money, created on first use."""
        ...

    @property
    def n_vars(self) -> int:
        return self.n + len(self.aux_labels)

    def add_aux(self, labels: list[str]) -> int:
        """Add auxiliary binary variables; return the column of the first."""
        start = self.n_vars
        self.aux_labels.extend(labels)
        return start

    def add_rows(
        self,
        labels: list[str],
        lo: ArrayLike,
        hi: ArrayLike,
        *,
        unit: RowUnit,
        structural: bool = False,
        x: sp.spmatrix | None = None,
        total: ArrayLike | None = None,
        aux: tuple[int, sp.spmatrix] | None = None,
        rule: int | None = None,
    ) -> None:
        """Append rows lo <= x-part·x + total·T + aux-part·aux <= hi, labelled.

        `unit` is what the rows count (see `RowUnit`); `structural` marks rows that only define
        an auxiliary variable. `rule` defaults to the rule being emitted (`rule_index`).
        """
        k = len(labels)
        if k == 0:
            return
        col = self.total() if total is not None else -1
        r0 = self.n_rows
        if x is not None:
            self.rows.blocks.append((r0, 0, sp.coo_matrix(x)))
        if total is not None:
            coef = np.broadcast_to(np.asarray(total, dtype=np.float64), (k,))
            self.rows.blocks.append((r0, col, sp.coo_matrix(coef[:, None])))
        if aux is not None:
            self.rows.blocks.append((r0, aux[0], sp.coo_matrix(aux[1])))
        self.rows.labels.extend(labels)
        self.rows.unit.extend([unit] * k)
        self.rows.structural.append(np.full(k, structural))
        self.rows.rule.append(np.full(k, self.rule_index if rule is None else rule))
        self.rows.lo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (k,)))
        self.rows.hi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (k,)))
        self.n_rows += k
