"""OR-Library multidimensional knapsack problems (MKP) as allocate Problems.

``max Σ p_j x_j  s.t.  Σ_j r_ij x_j <= b_i (i = 1..m),  x binary`` maps onto a grants
round with m budget years: constraint i is year i (``Budget.per_year = b``, total = Σ b),
item j is an application whose yearly cost profile is its weights ``r_·j`` (cost = Σ_i r_ij),
and its profit is the outcome score with ``value_form="score_sum"``, no social value and
``outcome_max = max p``. So an award's value is ``100·p_j/max p`` and the optimum profit is
``mknap_profit`` of the optimal allocation, exactly.

Two things the model needs that MKP data need not have, handled exactly:

* Costs and capacities must be whole pence > 0. Weights and capacities with decimals
  are scaled by 10^d (d = most decimals in the problem).
* An item with all-zero weights (cost 0) or a zero capacity. Then every weight and capacity
  is multiplied by F = z + 1 (z = number of such items; F = 2 if z = 0), each capacity gets
  F - 1 added, and each zero item costs 1 penny in year 1. For integer weights,
  ``F·w(S) + |S ∩ zero items| <= F·b + F - 1  ⇔  w(S) <= b``, so the feasible sets, and
  hence the optimum, are unchanged. (No OR-Library file needs either; the code is there
  for other MKP data.)

File formats read by `load_mknap` (detected from the content):

* ``mknapcb1..9.txt`` and ``mknap1.txt``: the number of problems K, then per problem
  ``n m optimum``, n profits, m rows of n weights, m capacities (optimum 0 = unknown).
  Problems are named ``{m}.{n}-{k:02d}`` for mknapcb files (as in ``mkcbres.txt``) and
  ``{stem}-{k}`` otherwise (k from 0).
* ``mknap2.txt``: free text, then per problem a line ``problem NAME``, then
  ``m n``, n profits, m capacities, m rows of n weights, and the known optimum.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from allocate.domain.errors import InvalidProblemError, Loc
from allocate.domain.model import Problem
from allocate.domain.parts import Application, Budget, ClientGroup, District, ScoreScale, Weights
from allocate.engine.result import Allocation
from allocate.scenarios.pabulib import total_outcome_score

_PROBLEM_LINE = re.compile(r"^\s*problem\s+(\S+)\s*$", re.IGNORECASE)
_REFERENCE_LINE = re.compile(r"^\s*(\d+\.\d+-\d+)\s+(\S+)\s*$")
_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class MknapData:
    """One MKP as read from a file: name, profits, weights (m × n), capacities, stated optimum."""

    name: str
    profits: tuple[Decimal, ...]
    weights: tuple[tuple[Decimal, ...], ...]
    capacities: tuple[Decimal, ...]
    optimum: Decimal | None
    line: int


@dataclass(frozen=True)
class Reference:
    """A reference profit: a proven ``optimum`` or a ``best_known`` feasible value (a lower bound)."""

    value: Decimal
    kind: Literal["optimum", "best_known"]
    lp_bound: float | None = None


class _Tokens:
    """Whitespace-separated numbers with their line numbers, read one field at a time."""

    def __init__(self, path: Path, lines: list[tuple[int, str]]) -> None:
        self.path = path
        self.items = [(no, tok) for no, text in lines for tok in text.split()]
        self.pos = 0
        self.last_line = lines[-1][0] if lines else 0

    def error(self, field: Loc, reason: str, line: int | None = None) -> InvalidProblemError:
        at = self.last_line if line is None else line
        return InvalidProblemError((f"{self.path.name}:{at}", *field), reason)

    def number(self, field: Loc) -> tuple[Decimal, int]:
        if self.pos >= len(self.items):
            raise self.error(field, "is missing (the file ends early)")
        line, tok = self.items[self.pos]
        self.pos += 1
        if not _NUMBER.match(tok):
            raise self.error(field, f"{tok!r} is not a number", line)
        try:
            value = Decimal(tok)
        except InvalidOperation:  # pragma: no cover - the regex admits only numbers
            raise self.error(field, f"{tok!r} is not a number", line) from None
        if value < 0:
            raise self.error(field, f"{tok} must be >= 0", line)
        return value, line

    def count(self, field: Loc) -> int:
        value, line = self.number(field)
        if value != value.to_integral_value() or value < 1:
            raise self.error(field, f"{value} must be a whole number >= 1", line)
        return int(value)

    def numbers(self, k: int, field: Loc) -> tuple[Decimal, ...]:
        return tuple(self.number((*field, i))[0] for i in range(k))

    @property
    def left(self) -> int:
        return len(self.items) - self.pos


def _lines(path: Path) -> list[tuple[int, str]]:
    with path.open(encoding="utf-8-sig") as fh:
        return [(i, line.split("//")[0]) for i, line in enumerate(fh, start=1)]


def _read_cb(path: Path, lines: list[tuple[int, str]]) -> Iterator[MknapData]:
    toks = _Tokens(path, lines)
    k_problems = toks.count(("number of problems",))
    cb = path.stem.lower().startswith("mknapcb")
    for k in range(k_problems):
        where = ("problem", k)
        n = toks.count((*where, "n"))
        line = toks.items[toks.pos - 1][0]
        m = toks.count((*where, "m"))
        opt = toks.number((*where, "optimum"))[0]
        profits = toks.numbers(n, (*where, "profit"))
        weights = tuple(toks.numbers(n, (*where, "weight", i)) for i in range(m))
        capacities = toks.numbers(m, (*where, "capacity"))
        name = f"{m}.{n}-{k:02d}" if cb else f"{path.stem}-{k}"
        yield MknapData(name, profits, weights, capacities, opt if opt > 0 else None, line)
    if toks.left:
        line, tok = toks.items[toks.pos]
        raise toks.error(("end of file",), f"unexpected {tok!r} after {k_problems} problems", line)


def _read_named(path: Path, lines: list[tuple[int, str]]) -> Iterator[MknapData]:
    starts = [(i, hit.group(1)) for i, (_, text) in enumerate(lines) if (hit := _PROBLEM_LINE.match(text))]
    for s, (start, name) in enumerate(starts):
        end = starts[s + 1][0] if s + 1 < len(starts) else len(lines)
        body = [(no, "" if set(text.strip()) <= {"+"} else text) for no, text in lines[start + 1 : end]]
        toks = _Tokens(path, body)
        m = toks.count((name, "m"))
        n = toks.count((name, "n"))
        profits = toks.numbers(n, (name, "profit"))
        capacities = toks.numbers(m, (name, "capacity"))
        weights = tuple(toks.numbers(n, (name, "weight", i)) for i in range(m))
        opt = toks.number((name, "optimum"))[0]
        if toks.left:
            line, tok = toks.items[toks.pos]
            raise toks.error((name,), f"unexpected {tok!r} after the optimum", line)
        yield MknapData(name, profits, weights, capacities, opt, lines[start][0])


def read_mknap(path: str | Path) -> list[MknapData]:
    """The raw problems of an OR-Library MKP file (formats in the module docstring)."""
    path = Path(path)
    lines = _lines(path)
    named = any(_PROBLEM_LINE.match(text) for _, text in lines)
    return list(_read_named(path, lines) if named else _read_cb(path, lines))


def _decimals(values: tuple[Decimal, ...]) -> int:
    return max((max(0, -int(v.normalize().as_tuple().exponent)) for v in values), default=0)


def mknap_problem(data: MknapData, path: str | Path = "") -> Problem:
    """The allocate Problem of one MKP (mapping and exactness argument in the module docstring)."""
    file = Path(path).name or data.name
    m, n = len(data.capacities), len(data.profits)
    flat = tuple(w for row in data.weights for w in row) + data.capacities
    scale = Decimal(10) ** _decimals(flat)
    weights = [[int(w * scale) for w in row] for row in data.weights]
    caps = [int(b * scale) for b in data.capacities]
    zero_items = [j for j in range(n) if all(weights[i][j] == 0 for i in range(m))]
    factor = len(zero_items) + 1 if zero_items else (2 if 0 in caps else 1)
    if factor > 1:
        weights = [[w * factor for w in row] for row in weights]
        caps = [b * factor + factor - 1 for b in caps]
    zero = set(zero_items)
    apps = []
    for j in range(n):
        profile = tuple(1 if (j in zero and i == 0) else weights[i][j] for i in range(m))
        score = float(data.profits[j])
        if Decimal(repr(score)) != data.profits[j]:
            raise InvalidProblemError(
                (f"{file}:{data.line}", data.name, "profit", j), f"{data.profits[j]} cannot be held exactly"
            )
        apps.append(
            Application(
                id=f"item{j}",
                organisation=f"item{j}",
                client_groups=("all",),
                cost=sum(profile),
                cost_profile=profile,
                outcome_score=score,
            )
        )
    top = max((float(p) for p in data.profits), default=0.0)
    return Problem(
        name=data.name,
        applications=tuple(apps),
        districts=(District(id="all", population=1),),
        client_groups=(ClientGroup(id="all"),),
        budget=Budget(total=sum(caps), per_year=tuple(caps)),
        weights=Weights(value_form="score_sum", social_value_share=0.0),
        scale=ScoreScale(outcome_max=top if top > 0 else 1.0),
    )


def load_mknap(path: str | Path) -> list[Problem]:
    """Every problem of an OR-Library MKP file as an allocate Problem, in file order.

    Raises InvalidProblemError naming the file, line and field of anything malformed.
    """
    return [mknap_problem(data, path) for data in read_mknap(path)]


def mknap_reference(path: str | Path) -> dict[str, Reference]:
    """Reference profits by problem name.

    From ``mkcbres.txt``: Chu & Beasley's best feasible values (``best_known``, lower bounds)
    with their LP bounds. From an instance file: the optimum stated in it (``optimum``),
    for the problems that state one.
    """
    path = Path(path)
    lines = _lines(path)
    if any("best feasible" in text.lower() for _, text in lines):
        best: dict[str, Decimal] = {}
        lp: dict[str, float] = {}
        for no, text in lines:
            match = _REFERENCE_LINE.match(text)
            if not match:
                continue
            name, value = match.groups()
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise InvalidProblemError((f"{path.name}:{no}", name), f"{value!r} is not a number") from None
            if name in best:
                lp[name] = float(number)
            else:
                best[name] = number
        return {k: Reference(v, "best_known", lp.get(k)) for k, v in best.items()}
    return {d.name: Reference(d.optimum, "optimum") for d in read_mknap(path) if d.optimum is not None}


def mknap_profit(funded: Allocation | Iterable[str], problem: Problem) -> Decimal:
    """The MKP profit of the funded items (ids or an Allocation), exactly."""
    return total_outcome_score(funded, problem)
