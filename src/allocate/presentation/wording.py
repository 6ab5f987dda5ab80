"""Plain-language sentences for a round's rule rows, for councillors, letters and reports.

`sentences(problem)` maps every row label the verifier reports (``Budget[total]``,
``OrganisationCap.max_awards[org-015]``, ...) to a sentence with money in pounds and shares
in per cent. The budget's and the one-option rows' sentences are here; each rule says its own
rows (`RuleBase.sentences`, from its own row labels, never by parsing a label), with the keys
named as `_whom` names them.
"""

from __future__ import annotations

from allocate.domain.model import Problem
from allocate.domain.money import pounds
from allocate.domain.rules import Whom, budget_label, variants_label
from allocate.domain.tally import cell_key


def words(key: str) -> str:
    """An id as words: ``older_people`` is "older people"."""
    return key.replace("_", " ")


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
        out.update(rule.sentences(problem, whom))
    return out


def _whom(problem: Problem) -> Whom:
    """How to name each key of a dimension in a sentence."""
    districts = {d.id: d.id for d in problem.districts}
    groups = {g.id: words(g.id) for g in problem.client_groups}
    cells = {
        cell_key(d, g): f"{groups[g]} in {d}" for d in districts for g in groups
    }  # fmt: skip
    tags = {t: f"the tag {words(t)}" for t in problem.tags}
    return {"district": districts, "client_group": groups, "cell": cells, "tag": tags}
