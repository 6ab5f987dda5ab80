"""The outcome of every application and option: funded or not, for how much, and why in plain words.

One row per option (the application as submitted, then each variant), ready for feedback
letters: amount in pounds, organisation, districts, client groups, scores, the reason and,
where one exists, the exact margin from `allocate.analysis.explain` (how much value a funded
bid could lose and stay funded; how much more an unfunded one needed). Reasons, checked in
this order: another option of the application was funded; a lock (locked in, or excluded);
below the pass mark; a rule that no allocation meeting the others can satisfy with this bid
(named by the rows that clash); only one of an exclusive set; outscored.
"""

from __future__ import annotations

from allocate.analysis.explain import Explanation, explain
from allocate.domain.model import Problem
from allocate.domain.parts import Application, Variant
from allocate.domain.rules import Exclusive, Lock, PassMark
from allocate.engine.backends import DEFAULT_BACKEND, get_backend
from allocate.engine.compile import compile_problem
from allocate.engine.conflict import find_conflict
from allocate.engine.options import SolverOptions
from allocate.engine.result import Allocation, Award
from allocate.presentation.outcome_table import Outcome, Reason
from allocate.presentation.wording import sentences


def outcomes(
    problem: Problem,
    allocation: Allocation,
    backend: str = DEFAULT_BACKEND,
    *,
    margins: bool = True,
    applications: list[str] | None = None,
    options: SolverOptions | None = None,
) -> list[Outcome]:
    """Every option of every application (or those listed) with its outcome and reason.

    `margins=False` skips the re-solves of `explain`: reasons that need them read "not
    explained", and no margins are given.
    """
    wanted = applications if applications is not None else [a.id for a in problem.applications]
    chosen = {a.application: a for a in allocation.awards}
    explained: dict[str, Explanation] = {}
    if margins and allocation.status in ("optimal", "feasible"):
        found = explain(problem, allocation, backend, applications=wanted, options=options)
        explained = {e.application: e for e in found.items}
    rows = []
    for app_id in wanted:
        app = problem.application(app_id)
        ex = explained.get(app_id)
        blocked = _blocking_rows(problem, app, backend, options) if ex is not None and _blocked(ex) else ()
        for var in (None, *app.variants):
            rows.append(_row(problem, allocation, app, var, chosen, ex, blocked))
    return rows


def _reachable(problem: Problem, ex: Explanation, outcome: float) -> bool:
    """The margin can be crossed by an outcome score on the scale (0..outcome_max)."""
    if ex.score_points is None:
        return False
    if ex.funded:
        return outcome - ex.score_points >= 0
    return outcome + ex.score_points <= problem.scale.outcome_max


def _blocked(ex: Explanation) -> bool:
    return not ex.funded and ex.margin is None


def _row(
    problem: Problem,
    allocation: Allocation,
    app: Application,
    var: Variant | None,
    chosen: dict[str, Award],
    ex: Explanation | None,
    blocked: tuple[str, ...],
) -> Outcome:
    vid = None if var is None else var.id
    award = chosen.get(app.id)
    funded = award is not None and award.variant == vid
    cost = app.cost if var is None else var.cost
    outcome = app.outcome_score if var is None or var.outcome_score is None else var.outcome_score
    social = app.social_scores if var is None or var.social_scores is None else var.social_scores
    districts = app.districts if var is None or var.districts is None else var.districts
    mine = ex is not None and ex.option == vid and ex.margin is not None
    reachable = mine and ex is not None and _reachable(problem, ex, outcome)
    reason, text = _reason(problem, allocation, app, vid, outcome, social, funded, award, ex, blocked)
    if ex is not None and reason == "outscored" and not mine:
        closest = "as submitted" if ex.option is None else f"as variant {ex.option}"
        text = f"Not funded: other bids gave more value for the money (its closest option to funding: {closest})."
    elif mine and not reachable and ex is not None and ex.score_points is not None:
        text = (
            f"Not funded: other bids gave more value for the money; no outcome score on the scale "
            f"(up to {problem.scale.outcome_max:g}) would have changed that."
            if not funded
            else "Funded, whatever its outcome score."
        )
    return Outcome(
        application=app.id,
        variant=vid,
        funded=funded,
        amount_pence=award.amount if funded and award is not None else cost,
        organisation=app.organisation,
        title=app.title,
        districts=districts,
        client_groups=app.client_groups,
        outcome_score=outcome,
        social_score=sum(social) / len(social),
        reason=reason,
        text=text,
        margin=ex.margin if reachable and ex is not None else None,
        score_points=ex.score_points if reachable and ex is not None else None,
        letter=ex.text if ex is not None else "",
    )


def _reason(
    problem: Problem,
    allocation: Allocation,
    app: Application,
    vid: str | None,
    outcome: float,
    social: tuple[float, ...],
    funded: bool,
    award: Award | None,
    ex: Explanation | None,
    blocked: tuple[str, ...],
) -> tuple[Reason, str]:
    locks = [r for r in problem.rules if isinstance(r, Lock) and r.application == app.id]
    if funded:
        if any(lk.fund for lk in locks):
            return "locked in", "Funded: the round's rules say it must be funded."
        if ex is not None and ex.margin is not None and ex.score_points is not None:
            return "funded", (
                f"Funded. It would still have been funded with up to {ex.score_points:.2f} fewer "
                "outcome-score points."
            )
        if ex is not None and ex.margin is None:
            return "funded", "Funded: no allocation meeting every rule leaves it out."
        return "funded", "Funded."
    if award is not None:
        other = "as submitted" if award.variant is None else f"as variant {award.variant}"
        return "other option funded", f"Not funded in this form: the application was funded {other}."
    if any(not lk.fund for lk in locks):
        return "excluded", "Not funded: the round's rules exclude it."
    fixed = [lk for lk in locks if lk.fund and lk.variant not in (None, vid or app.id)]
    if fixed:
        return "locked in", f"Not funded in this form: the round's rules fund it as {fixed[0].variant}."
    for mark in (r for r in problem.rules if isinstance(r, PassMark)):
        if mark.fails(outcome, social):
            return "pass mark", _below(mark, outcome, social)
    if ex is None:
        return "not explained", (
            "Not funded: other bids were preferred within the budget and the rules (margins not worked out)."
        )
    if ex.margin is None:
        why = "; ".join(blocked) if blocked else "the rules of the round"
        return "rule", f"Not funded: no allocation meeting every rule can include it ({why})."
    points = (
        f"{ex.score_points:.2f} more outcome-score points" if ex.score_points is not None else "more value"
    )
    funded_ids = allocation.funded
    for rule in (r for r in problem.rules if isinstance(r, Exclusive) and app.id in r.applications):
        rivals = [a for a in rule.applications if a in funded_ids and a != app.id]
        if len(rivals) >= rule.at_most:
            return "rule", (
                f"Not funded: at most {rule.at_most} of applications {', '.join(rule.applications)} can be "
                f"funded, and {', '.join(rivals)} gave more value. It needed {points}."
            )
    return "outscored", (
        f"Not funded: other bids gave more value for the money. It would have been funded with {points}."
    )


def _below(mark: PassMark, outcome: float, social: tuple[float, ...]) -> str:
    if mark.min_outcome is not None and outcome < mark.min_outcome:
        return f"Not funded: its outcome score {outcome:g} is below the pass mark of {mark.min_outcome:g}."
    mean = sum(social) / len(social)
    return (
        f"Not funded: its mean social-value score {mean:.2f} is below the pass mark of {mark.min_social:g}."
    )


def _blocking_rows(
    problem: Problem, app: Application, backend: str, options: SolverOptions | None
) -> tuple[str, ...]:
    """The rules that clash once `app` is funded, in plain words (the round's rows named by the core's
    conflict finder on the round with the application locked in)."""
    forced = problem.replace(rules=(*problem.rules, Lock(application=app.id)))
    found = find_conflict(compile_problem(forced), get_backend(backend), options or SolverOptions())
    said = sentences(problem)
    lock = Lock(application=app.id).label
    return tuple(dict.fromkeys(said.get(r, r).rstrip(".") for r in found.rows if r != lock))
