"""Plain-language sentences for a round's rule rows, for councillors, letters and reports.

`sentences(problem)` maps every row label the verifier reports (``Budget[total]``,
``OrganisationCap.max_awards[org-015]``, ...) to a sentence with money in pounds and shares
in per cent, built from the rules themselves (each rule's own row labels), never by parsing a
label. A row of a rule kind this module does not know keeps the rule's display name.
"""

from __future__ import annotations

from collections.abc import Callable

from allocate.domain.model import Problem
from allocate.domain.money import pounds
from allocate.domain.rules import (
    Coverage,
    EqualityGap,
    Exclusive,
    Lock,
    MinOrganisations,
    MinSpend,
    NoNewGaps,
    OrganisationCap,
    PassMark,
    Pot,
    Requires,
    RuleBase,
    budget_label,
    variants_label,
)
from allocate.domain.tally import cell_key


def words(key: str) -> str:
    """An id as words: ``older_people`` is "older people"."""
    return key.replace("_", " ")


def _first_up(text: str) -> str:
    return text[:1].upper() + text[1:]


def _plural(n: float, one: str, many: str) -> str:
    return f"{n:g} {one if n == 1 else many}"


def sentences(problem: Problem) -> dict[str, str]:
    """Row label -> sentence, for the budget, the one-option rows and every rule of `problem`."""
    out = {budget_label(): f"The awards cost at most the budget, {pounds(problem.budget.total)}."}
    for y, limit in enumerate(problem.budget.per_year or ()):
        out[budget_label(y + 1)] = f"Payments in year {y + 1} are at most {pounds(limit)}."
    for app in problem.applications:
        if app.variants:
            out[variants_label(app.id)] = f"At most one option of application {app.id} is funded."
    whom = _whom(problem)
    for rule in problem.rules:
        describe = _DESCRIBE.get(type(rule))
        if describe is not None:
            out.update(describe(rule, problem, whom))
        else:
            out.setdefault(rule.label, f"The {rule.display_name} {rule.label} holds.")
    return out


def _whom(problem: Problem) -> dict[str, dict[str, str]]:
    """How to name each key of a dimension in a sentence."""
    districts = {d.id: d.id for d in problem.districts}
    groups = {g.id: words(g.id) for g in problem.client_groups}
    cells = {
        cell_key(d, g): f"{groups[g]} in {d}" for d in districts for g in groups
    }  # fmt: skip
    tags = {t: f"the tag {words(t)}" for t in problem.tags}
    return {"district": districts, "client_group": groups, "cell": cells, "tag": tags}


def _pot(rule: Pot, problem: Problem, whom: dict[str, dict[str, str]]) -> dict[str, str]:
    out = {
        rule._row_label(): f"Awards of at most {pounds(rule.max_per_year)} a year (the {rule.name} pot) "
        f"take at most {pounds(rule.amount)} in all."
    }
    if rule.ring_fenced:
        rest = problem.budget.total - rule.amount
        out[rule._row_label(rest=True)] = (
            f"Other awards take at most {pounds(rest)}: the budget less the ring-fenced {rule.name} pot."
        )
    return out


def _coverage(rule: Coverage, problem: Problem, whom: dict[str, dict[str, str]]) -> dict[str, str]:
    names = whom[rule.over]
    keys = list(names) if rule.key is None else [rule.key]
    out = {}
    for bound, sense, value, unit in rule._bounds():
        least = "at least" if sense == ">=" else "at most"
        for k in keys:
            who = names.get(k, k)
            if unit == "pence":
                text = f"{who} receives {least} {pounds(value)}."
            elif unit == "share":
                text = f"{who} receives {least} {value:.1%} of the money awarded."
            else:
                text = f"{least.capitalize()} {_plural(value, 'award serves', 'awards serve')} {who}."
            out[rule._row_label(bound, k)] = _first_up(text)
    return out


def _equality(rule: EqualityGap, problem: Problem, whom: dict[str, dict[str, str]]) -> dict[str, str]:
    names = whom[rule.over]
    basis = "population" if rule.basis == "population" else "need"
    if rule.over == "tag":
        basis = "the money (declared target)"
    out = {}
    for k, target in rule.targets(problem).items():
        lo, hi = rule.band(target)
        if rule.ratio is None:
            width = f"{rule.tolerance * 100:g} pp"
            low_why, high_why = f"less {width}", f"plus {width}"
        else:
            low_why, high_why = f"× {rule.ratio[0]:g}", f"× {rule.ratio[1]:g}"
        who = names.get(k, k)
        out[rule._row_label("low", k)] = (
            f"{who}'s share of the money is at least {max(lo, 0):.1%} "
            f"(its share of {basis}, {target:.1%}, {low_why})."
        )
        out[rule._row_label("high", k)] = (
            f"{who}'s share of the money is at most {min(hi, 1):.1%} "
            f"(its share of {basis}, {target:.1%}, {high_why})."
        )
    return {k: _first_up(v) for k, v in out.items()}


def _gaps(rule: NoNewGaps, problem: Problem, whom: dict[str, dict[str, str]]) -> dict[str, str]:
    cells = whom["cell"]
    return {
        rule._row_label(k): _first_up(f"{cells.get(k, k)}, served today, keep at least one award.")
        for k in rule.served_today(problem)
    }


def _cap(rule: OrganisationCap, problem: Problem, whom: dict[str, dict[str, str]]) -> dict[str, str]:
    orgs = rule._selected(problem, sorted({a.organisation for a in problem.applications}))
    out = {}
    for o in orgs:
        if rule.max_amount is not None:
            out[rule._row_label("max_amount", o)] = f"{o} receives at most {pounds(rule.max_amount)}."
        if rule.max_share is not None:
            out[rule._row_label("max_share", o)] = (
                f"{o} receives at most {rule.max_share:.1%} of the money awarded."
            )
        if rule.max_awards is not None:
            out[rule._row_label("max_awards", o)] = (
                f"{o} receives at most {_plural(rule.max_awards, 'award', 'awards')}."
            )
    return out


def _min_orgs(rule: MinOrganisations, problem: Problem, whom: dict[str, dict[str, str]]) -> dict[str, str]:
    return {rule._row_label(): f"At least {rule.count} organisations receive an award."}


def _pass_mark(rule: PassMark, problem: Problem, whom: dict[str, dict[str, str]]) -> dict[str, str]:
    marks = []
    if rule.min_outcome is not None:
        marks.append(f"an outcome score under {rule.min_outcome:g}")
    if rule.min_social is not None:
        marks.append(f"a mean social-value score under {rule.min_social:g}")
    return {rule.label: f"No bid with {' or '.join(marks)} (the pass mark) is funded."}


def _lock(rule: Lock, problem: Problem, whom: dict[str, dict[str, str]]) -> dict[str, str]:
    if not rule.fund:
        return {rule.label: f"Application {rule.application} is not funded (excluded by the round)."}
    option = "" if rule.variant in (None, rule.application) else f" as variant {rule.variant}"
    return {rule.label: f"Application {rule.application} is funded{option} (locked in by the round)."}


def _exclusive(rule: Exclusive, problem: Problem, whom: dict[str, dict[str, str]]) -> dict[str, str]:
    verb = "is" if rule.at_most == 1 else "are"
    return {
        rule.label: f"At most {rule.at_most} of applications {', '.join(rule.applications)} {verb} funded."
    }


def _min_spend(rule: MinSpend, problem: Problem, whom: dict[str, dict[str, str]]) -> dict[str, str]:
    out = {}
    for bound, year, least in rule.limits(problem):
        when = "in all" if year is None else f"in year {year}"
        share = (
            "" if rule.min_share is None or bound != "min_share" else f" ({rule.min_share:.1%} of the budget)"
        )
        out[rule._row_label(bound, year)] = f"At least {pounds(least)} is awarded {when}{share}."
    return out


def _requires(rule: Requires, problem: Problem, whom: dict[str, dict[str, str]]) -> dict[str, str]:
    return {rule.label: f"Application {rule.application} is funded only if {rule.requires} is funded too."}


_DESCRIBE: dict[type[RuleBase], Callable[..., dict[str, str]]] = {
    Pot: _pot,
    Coverage: _coverage,
    EqualityGap: _equality,
    NoNewGaps: _gaps,
    OrganisationCap: _cap,
    MinOrganisations: _min_orgs,
    PassMark: _pass_mark,
    Lock: _lock,
    Exclusive: _exclusive,
    Requires: _requires,
    MinSpend: _min_spend,
}
