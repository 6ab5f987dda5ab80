"""Compare two allocations of the same problem: what moved, and why it matters."""

from __future__ import annotations

from dataclasses import dataclass

from allocate.domain.model import Problem
from allocate.domain.money import pounds
from allocate.domain.tally import Tally
from allocate.engine.result import Allocation
from allocate.engine.verify import resolve


@dataclass(frozen=True)
class Comparison:
    """How allocation b differs from allocation a."""

    entered: tuple[str, ...]
    """Applications funded in b but not in a."""
    left: tuple[str, ...]
    """Applications funded in a but not in b."""
    changed_option: tuple[str, ...]
    """Applications funded in both, but as a different variant."""
    value_change: float
    outcome_change: float
    social_change: float
    total_change: int
    money_by_district: dict[str, float]
    """Attributed money, b minus a (pence)."""
    money_by_client_group: dict[str, float]
    newly_binding: tuple[str, ...]
    no_longer_binding: tuple[str, ...]

    def summary(self) -> str:
        moved = ", ".join(f"{k} {pounds(v)}" for k, v in self.money_by_district.items() if round(v))
        return (
            f"{len(self.entered)} awards enter ({', '.join(self.entered) or 'none'}), "
            f"{len(self.left)} leave ({', '.join(self.left) or 'none'}); value {self.value_change:+,.1f}; "
            f"money moved by district: {moved or 'none'}; newly binding: {', '.join(self.newly_binding) or 'none'}"
        )


def _money(problem: Problem, allocation: Allocation) -> tuple[dict[str, float], dict[str, float]]:
    chosen, _ = resolve(problem, [(a.application, a.variant) for a in allocation.awards])
    tally = Tally(problem, chosen)
    return tally.attributed("district"), tally.attributed("client_group")


def compare(a: Allocation, b: Allocation, problem: Problem) -> Comparison:
    """Awards entering and leaving, money moved per district and client group, value change,
    and rules that became (or stopped being) binding, from a to b."""
    fa = {x.application: x.variant for x in a.awards}
    fb = {x.application: x.variant for x in b.awards}
    da, ga = _money(problem, a)
    db, gb = _money(problem, b)
    bind_a = {r.label for r in a.binding_rules}
    bind_b = {r.label for r in b.binding_rules}
    return Comparison(
        entered=tuple(sorted(set(fb) - set(fa))),
        left=tuple(sorted(set(fa) - set(fb))),
        changed_option=tuple(sorted(k for k in set(fa) & set(fb) if fa[k] != fb[k])),
        value_change=b.value - a.value,
        outcome_change=b.value_outcome - a.value_outcome,
        social_change=b.value_social - a.value_social,
        total_change=b.total - a.total,
        money_by_district={k: db[k] - da[k] for k in da},
        money_by_client_group={k: gb[k] - ga[k] for k in ga},
        newly_binding=tuple(sorted(bind_b - bind_a)),
        no_longer_binding=tuple(sorted(bind_a - bind_b)),
    )
