"""The Allocation: what was decided, how good it is, and how to reproduce it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from allocate.domain.money import pounds
from allocate.domain.parts import Weights
from allocate.domain.schema import Frozen
from allocate.engine.options import SolverOptions, Status

if TYPE_CHECKING:
    import pandas as pd

    from allocate.domain.model import Problem
    from allocate.presentation.outcome_table import Outcome


class Award(Frozen):
    """One funded application (as submitted, or one of its variants)."""

    application: str
    variant: str | None
    organisation: str
    amount: int
    profile: tuple[int, ...]
    value: float
    value_outcome: float
    value_social: float


class RuleReport(Frozen):
    """One rule row checked on the allocation: achieved vs limit, slack, binding."""

    label: str
    sense: Literal["<=", ">="]
    achieved: float
    limit: float
    slack: float
    binding: bool
    ok: bool
    unit: str


class SolverInfo(Frozen):
    """Which solver ran, how long it took, with which options."""

    backend: str
    version: str
    seconds: float
    options: SolverOptions
    message: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)


class Certificate(Frozen):
    """A second, different backend's check of the first one's claim (see docs/engine.md).

    For "optimal": the checker, started from the allocation, found nothing better than its
    value (beyond `VALUE_TOLERANCE`) and proved a bound within the requested gap of it. For
    "feasible": the checker found nothing above the claimed bound. For "infeasible": the
    checker also finds no allocation, both for the whole round and for the named conflict alone.
    `confirmed` is False only when the checker stopped (time limit) before settling the claim;
    a contradiction raises CertificationError instead.
    """

    backend: str
    status: Status
    value: float | None = None
    bound: float | None = None
    seconds: float
    confirmed: bool
    note: str = ""


class Allocation(Frozen):
    """The result of `solve`: awards, value, bound and gap, per-rule report and provenance.

    Every allocation with awards has passed the independent verifier (`verified`).
    """

    status: Status
    awards: tuple[Award, ...] = ()
    total: int = 0
    value: float = 0.0
    value_outcome: float = 0.0
    value_social: float = 0.0
    bound: float | None = None
    gap: float | None = None
    rules_report: tuple[RuleReport, ...] = ()
    conflict: tuple[str, ...] = ()
    message: str = ""
    weights: Weights
    solver: SolverInfo
    verified: bool = False
    fingerprint: str
    certificate: Certificate | None = None

    @property
    def funded(self) -> frozenset[str]:
        """Ids of the funded applications."""
        return frozenset(a.application for a in self.awards)

    @property
    def binding_rules(self) -> tuple[RuleReport, ...]:
        return tuple(r for r in self.rules_report if r.binding)

    def __repr__(self) -> str:
        """One line: status, awards, money, value (two places), gap and fingerprint; the full
        record is `to_dict`."""
        gap = "" if self.gap is None else f", gap={self.gap:.2g}"
        return (
            f"Allocation(status={self.status!r}, awards={len(self.awards)}, total={pounds(self.total)}, "
            f"value={round(self.value, 2) + 0.0:,}{gap}, backend={self.solver.backend!r}, "
            f"verified={self.verified}, fingerprint={self.fingerprint[:12]!r})"
        )

    __str__ = __repr__

    def _repr_html_(self) -> str:
        """Jupyter: the summary and the top of the award and binding-rule tables."""
        from allocate.presentation.notebook import html

        return html(self)

    def to_frame(self, problem: Problem) -> pd.DataFrame:
        """The awards joined with their applications (title, districts, client groups), £ amounts."""
        from allocate.presentation.notebook import awards_frame

        return awards_frame(problem, self)

    def rules_frame(self, problem: Problem | None = None) -> pd.DataFrame:
        """The rules report, money in £ (with `problem`: each rule row in plain words too)."""
        from allocate.presentation.notebook import rules_frame

        return rules_frame(self, problem)

    def outcomes(
        self, problem: Problem, backend: str | None = None, *, margins: bool = True
    ) -> list[Outcome]:
        """Every application and option: funded or not, £, the reason in plain words and the
        margin (see `allocate.presentation.outcomes`; margins re-solve the round once per application)."""
        from allocate.presentation.outcomes import outcomes

        return outcomes(problem, self, backend or self.solver.backend, margins=margins)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; `Allocation.from_dict` reads it back unchanged."""
        return self.model_dump(mode="json")

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Allocation:
        return cls.from_dict(json.loads(text))
