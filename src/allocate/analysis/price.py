"""The price of each equity rule: the value the round gives up to meet it.

For each rule (by default the equity rules, whose class sets `equity`), re-solve the round
without it: the rule's price is the value without it minus the value with it (never negative,
since dropping a rule can only widen the choice), with how many awards and organisations
would change. For an EqualityGap rule it also re-solves with the
tolerance set to a few other values (e.g. ±2, ±5, ±10 percentage points), so a commissioner
sees what a tighter or looser band would cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass

import numpy as np

from allocate.analysis.workers import Progress, executor_for, start_from
from allocate.domain.errors import InfeasibleError, InvalidProblemError
from allocate.domain.model import Problem
from allocate.domain.money import pounds
from allocate.domain.rules import RuleBase
from allocate.engine.backends import DEFAULT_BACKEND
from allocate.engine.compile import compile_problem
from allocate.engine.options import SolverOptions
from allocate.engine.result import Allocation
from allocate.engine.solve import solve

DEFAULT_TOLERANCES: tuple[float, ...] = (0.02, 0.05, 0.10)


@dataclass(frozen=True)
class RulePrice:
    """What one rule (or one EqualityGap tolerance) costs in value."""

    rule: str
    """The rule's label, e.g. ``EqualityGap[district]``."""
    index: int
    """Position of the rule in ``problem.rules``."""
    tolerance: float | None
    """For an EqualityGap priced at another tolerance: that tolerance; else None (the rule as given)."""
    value_with: float | None
    """Optimal value with the rule (at `tolerance` if set); None if no allocation then meets every rule."""
    value_without: float
    """Optimal value with the rule removed (every other rule kept)."""
    price: float | None
    """value_without − value_with (≥ 0): the value given up to meet the rule."""
    share: float | None
    """price / value_without (0.012 = 1.2 % of value)."""
    awards_changed: int | None
    """Applications funded in one of the two allocations but not the other."""
    organisations_changed: int | None
    """Organisations funded in one of the two allocations but not the other."""
    text: str


def _organisations(allocation: Allocation) -> frozenset[str]:
    return frozenset(a.organisation for a in allocation.awards)


def _money(value: float, problem: Problem) -> str:
    """Value in words: pounds of quality-weighted money, or value points for other forms."""
    if problem.weights.value_form == "quality_pounds":
        return f"{pounds(value * 100)} of quality-weighted money"
    return f"{value:,.2f} value points"


def _price(
    problem: Problem,
    rule: RuleBase,
    index: int,
    tolerance: float | None,
    with_rule: Allocation,
    without: Allocation,
) -> RulePrice:
    label = rule.label
    name = f"the {rule.display_name} ({label})"
    if tolerance is not None:
        name += f" at ±{tolerance * 100:g} pp"
    if with_rule.status not in ("optimal", "feasible"):
        return RulePrice(
            label,
            index,
            tolerance,
            None,
            without.value,
            None,
            None,
            None,
            None,
            f"{name[0].upper()}{name[1:]} cannot be met together with the other rules.",
        )
    # Dropping a rule cannot lower the optimum; a tiny negative difference is solver tolerance.
    price = max(0.0, without.value - with_rule.value)
    share = price / without.value if without.value > 0 else 0.0
    awards = len(with_rule.funded ^ without.funded)
    orgs = len(_organisations(with_rule) ^ _organisations(without))
    text = (
        f"{name[0].upper()}{name[1:]} costs {share:.1%} of value ({_money(price, problem)}); "
        f"without it {awards} award{'s' if awards != 1 else ''} and "
        f"{orgs} organisation{'s' if orgs != 1 else ''} would change."
    )
    return RulePrice(
        label, index, tolerance, with_rule.value, without.value, price, share, awards, orgs, text
    )


def _resolve(
    problem: Problem,
    index: int,
    tolerance: float | None,
    backend: str,
    options: SolverOptions,
    start: list[tuple[str, str | None]],
) -> Allocation:
    """The round without rule `index` (tolerance None) or with its band at `tolerance`; a task.

    Started from the round's optimum (`start`): dropping a rule keeps it feasible, so the solver
    begins with a good allocation to beat.
    """
    rule = problem.rules[index]
    if tolerance is None:
        rules = problem.rules[:index] + problem.rules[index + 1 :]
    else:
        band = rule.at_tolerance(tolerance)
        assert band is not None  # only rules with a band are priced at a tolerance
        rules = (*problem.rules[:index], band, *problem.rules[index + 1 :])
    changed = problem.replace(rules=rules)
    model = compile_problem(changed)
    awarded = set(start)
    awards = np.array(
        [(c.application.id, c.variant_id) in awarded for c in model.candidates], dtype=np.float64
    )
    hint = start_from(model, awards)
    return solve(changed, backend, options=options, compiled=model, hint=hint, diagnose=False)


def price_of_rules(
    problem: Problem,
    backend: str = DEFAULT_BACKEND,
    *,
    rules: Sequence[int] | None = None,
    tolerances: Sequence[float] | None = None,
    options: SolverOptions | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> list[RulePrice]:
    """The value each rule costs: re-solve without it, and (EqualityGap) at other tolerances.

    `rules` lists indices into ``problem.rules`` (default: every equity rule, i.e.
    EqualityGap, Coverage, NoNewGaps, OrganisationCap and MinOrganisations, and every spending
    target, MinSpend). `tolerances` are the EqualityGap
    bands to price (default 0.02, 0.05, 0.10; an empty list prices none; ignored for a rule
    given as a ratio band). Entries come in rule order, each rule first as given, then at each
    tolerance. Raises InfeasibleError if the round itself has no allocation meeting every rule.

    The re-solves are independent, each started from the round's optimum: they are submitted
    to `executor` (default: a process pool on rounds of 50 or more candidate awards, else this
    process); ``progress(done, total)`` is called as they finish.
    """
    opts = SolverOptions() if options is None else options
    chosen = (
        [i for i, r in enumerate(problem.rules) if r.equity or r.target] if rules is None else list(rules)
    )
    for i in chosen:
        if not 0 <= i < len(problem.rules):
            raise InvalidProblemError(
                ("rules", i), f"rule index {i} is out of range (the problem has {len(problem.rules)} rules)"
            )
    bands = DEFAULT_TOLERANCES if tolerances is None else tuple(tolerances)
    base = solve(problem, backend, options=opts, diagnose=False)
    if base.status not in ("optimal", "feasible"):
        raise InfeasibleError("the round has no allocation meeting every rule; run diagnose() first")
    asked: list[tuple[int, float | None]] = []
    for i in chosen:
        rule = problem.rules[i]
        asked.append((i, None))
        asked += [(i, float(t)) for t in bands if rule.at_tolerance(float(t)) is not None]
    start = [(a.application, a.variant) for a in base.awards]
    options_count = sum(1 + len(a.variants) for a in problem.applications)
    with executor_for(executor, len(asked), options_count) as pool:
        futures = [pool.submit(_resolve, problem, i, t, backend, opts, start) for i, t in asked]
        position = {f: k for k, f in enumerate(futures)}
        solved: dict[int, Allocation] = {}
        for fut in as_completed(futures):
            solved[position[fut]] = fut.result()
            if progress is not None:
                progress(len(solved), len(asked))
    out: list[RulePrice] = []
    for k, (i, t) in enumerate(asked):
        without = solved[k] if t is None else solved[asked.index((i, None))]
        out.append(_price(problem, problem.rules[i], i, t, base if t is None else solved[k], without))
    return out
