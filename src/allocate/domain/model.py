"""The domain model: a grants round as validated, immutable data (`Problem`), checked as a whole.

Its parts (applications, districts, budget, weights, commitments, ...) are in
`allocate.domain.parts`; here they come together with the rules, and the checks across fields
(ids unique, references known, scores on the scale, every rule against the round) are made,
each failure an `InvalidProblemError` that names the field and, in its reason, the application
or rule concerned.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from allocate.domain.columns import application_tags, built
from allocate.domain.errors import InvalidProblemError, Loc
from allocate.domain.parts import (
    SOCIAL_OBJECTIVES,
    Application,
    Attribution,
    Budget,
    ClientGroup,
    Commitment,
    District,
    Organisation,
    ScoreScale,
    Variant,
    Weights,
)
from allocate.domain.rules import Rule
from allocate.domain.schema import Frozen, Key, Text


class Problem(Frozen):
    """A grants round: applications, geography, client groups, budget, rules and weights."""

    name: Annotated[Text, Field(min_length=1)] = "round"
    applications: tuple[Application, ...] = Field(min_length=1)
    districts: tuple[District, ...] = Field(min_length=1)
    client_groups: tuple[ClientGroup, ...] = Field(min_length=1)
    budget: Budget
    rules: tuple[Rule, ...] = ()
    weights: Weights = Weights()
    scale: ScoreScale = ScoreScale()
    social_objectives: tuple[Key, ...] = Field(default=SOCIAL_OBJECTIVES, min_length=1)
    attribution: Attribution = Field(
        default="population",
        description="how money of a multi-district or county-wide award is split across districts",
    )
    organisations: tuple[Organisation, ...] = Field(
        default=(), description="organisations' own facts (tags); optional, by organisation name"
    )
    commitments: tuple[Commitment, ...] = Field(
        default=(), description="grants from earlier rounds still paying out in this round's years"
    )

    @model_validator(mode="after")
    def _references(self) -> Self:
        applications = self.applications
        check_round(self, [a.id for a in applications], lambda facts: check_each(facts, applications))
        return self

    def application(self, application_id: str) -> Application:
        """The application with this id (KeyError if unknown)."""
        for app in self.applications:
            if app.id == application_id:
                return app
        raise KeyError(application_id)

    def tags_of(self, application: Application) -> tuple[str, ...]:
        """The application's tags and its organisation's, sorted (each once)."""
        own = self._organisation_tags.get(application.organisation, ())
        if not own:
            return tuple(sorted(set(application.tags)))
        return tuple(sorted({*application.tags, *own}))

    @cached_property
    def _organisation_tags(self) -> dict[str, tuple[str, ...]]:
        return {o.id: o.tags for o in self.organisations}

    @property
    def tags(self) -> tuple[str, ...]:
        """Every tag of an application or an organisation of the round, sorted."""
        found = {t for tags in application_tags(self) for t in tags} | {
            t for o in self.organisations for t in o.tags
        }
        found |= {t for c in self.commitments for t in c.tags}
        return tuple(sorted(found))

    def replace(self, **changes: Any) -> Problem:
        """A validated copy with some fields changed (the original is untouched)."""
        data = {name: getattr(self, name) for name in type(self).model_fields}
        data.update(changes)
        return Problem(**data)

    @classmethod
    def from_columns(cls, applications: Any, *, variants: Any = None, **fields: Any) -> Problem:
        """A Problem whose applications (and variants) come as columns, checked on whole arrays.

        `applications` is a mapping of column name to array or list, a pandas DataFrame or a
        pyarrow Table, with one column per Application field (``id``, ``organisation``,
        ``client_groups``, ``cost``, ``outcome_score`` required; ``social_scores`` and
        ``cost_profile`` may be 2-D arrays). `variants` likewise, with ``application_id`` naming
        each variant's application. Every other keyword is a Problem field as `Problem` takes
        it (districts and client groups may be tables too). The same checks as `Problem(...)`
        are made, with the same errors, naming the first bad row and field; the Application
        objects are made when `applications` is first read.
        """
        from allocate.domain.columnar import problem_from_columns

        return problem_from_columns(applications, variants, fields)

    def model_dump(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """pydantic's dump, with the applications made first if built from columns."""
        built(self)
        return super().model_dump(*args, **kwargs)

    def model_dump_json(self, *args: Any, **kwargs: Any) -> str:
        """pydantic's JSON dump, with the applications made first if built from columns."""
        built(self)
        return super().model_dump_json(*args, **kwargs)

    def __iter__(self) -> Any:
        """(field, value) pairs, as pydantic gives them, the applications as a tuple."""
        built(self)
        return super().__iter__()


class _Applications:
    """`Problem.applications`, read through `built`: a Problem made from columns makes its
    Application objects on first read (pydantic keeps the field; this only reads it)."""

    def __get__(self, obj: Problem | None, owner: type | None = None) -> Any:
        return self if obj is None else built(obj)

    def __set__(self, obj: Problem, value: object) -> None:
        raise AttributeError("a Problem is immutable: use Problem.replace")


setattr(Problem, "applications", _Applications())  # noqa: B010 (mypy must keep the field's type)


@dataclass(frozen=True)
class RoundFacts:
    """What each application is checked against: the round's places, groups, objectives, years."""

    districts: frozenset[str]
    groups: frozenset[str]
    n_social: int
    years: int
    scale: ScoreScale
    needs_beneficiaries: bool

    @classmethod
    def of(cls, problem: Problem) -> RoundFacts:
        return cls(
            districts=frozenset(d.id for d in problem.districts),
            groups=frozenset(g.id for g in problem.client_groups),
            n_social=len(problem.social_objectives),
            years=problem.budget.years,
            scale=problem.scale,
            needs_beneficiaries=problem.weights.value_form == "score_beneficiaries",
        )


def check_round(
    problem: Problem, application_ids: list[str], check_applications: Callable[[RoundFacts], None]
) -> None:
    """The checks of a round across its fields, in order: unique ids, the social weights, each
    application against the round (`check_applications`: object by object, or on columns),
    commitments, then every rule against the problem."""
    _unique("districts", [d.id for d in problem.districts])
    _unique("client_groups", [g.id for g in problem.client_groups])
    if len(set(application_ids)) != len(application_ids):
        _unique("applications", application_ids)
    _unique("organisations", [o.id for o in problem.organisations])
    facts = RoundFacts.of(problem)
    w = problem.weights.social_objective_weights
    if w is not None and len(w) != facts.n_social:
        raise InvalidProblemError(
            ("Problem", "weights", "social_objective_weights"),
            f"has {len(w)} weights but there are {facts.n_social} social objectives",
        )
    check_applications(facts)
    _check_commitments(problem.commitments, problem.budget, facts.districts, facts.groups)
    for i, rule in enumerate(problem.rules):
        with _naming(f"rule {rule.label}"):
            rule.validate_against(problem, ("Problem", "rules", i))


def check_each(facts: RoundFacts, applications: tuple[Application, ...]) -> None:
    for i, app in enumerate(applications):
        check_application(facts, i, app)


def check_application(facts: RoundFacts, i: int, app: Application) -> None:
    """Application `i` against the round: known districts and groups, scores on the scale, one
    yearly amount per budget year, beneficiaries when value counts them (its variants too)."""
    loc: Loc = ("Problem", "applications", i)
    districts, groups = facts.districts, facts.groups
    with _naming(f"application {app.id!r}"):
        _check_app(app, loc, districts, groups, facts.n_social, facts.years, facts.scale)
    for k, var in enumerate(app.variants):
        with _naming(f"application {app.id!r}, variant {var.id!r}"):
            _check_variant(var, (*loc, "variants", k), districts, facts.n_social, facts.years, facts.scale)
    if facts.needs_beneficiaries and app.beneficiaries is None:
        raise InvalidProblemError(
            (*loc, "beneficiaries"),
            f"is required when weights.value_form is 'score_beneficiaries' (application {app.id!r})",
        )


@contextmanager
def _naming(what: str) -> Iterator[None]:
    """Add which application or rule is meant to the reason of an error raised inside: its
    location gives only the position (``Problem.rules[2].key: ... (rule Coverage[district=X])``)."""
    try:
        yield
    except InvalidProblemError as exc:
        raise InvalidProblemError(exc.loc, f"{exc.reason} ({what})") from None


def _unique(field: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i, k in enumerate(ids):
        if k in seen:
            raise InvalidProblemError(("Problem", field, i, "id"), f"duplicate id {k!r}")
        seen.add(k)


def _check_scores(
    outcome: float | None, social: tuple[float, ...] | None, loc: Loc, n: int, scale: ScoreScale
) -> None:
    if outcome is not None and not (0 <= outcome <= scale.outcome_max):
        raise InvalidProblemError(
            (*loc, "outcome_score"), f"{outcome} is outside the declared scale 0..{scale.outcome_max}"
        )
    if social is not None:
        if len(social) != n:
            raise InvalidProblemError(
                (*loc, "social_scores"), f"has {len(social)} scores but there are {n} objectives"
            )
        bad = [k for k, s in enumerate(social) if not (0 <= s <= scale.social_max) or math.isnan(s)]
        if bad:
            raise InvalidProblemError(
                (*loc, "social_scores", bad[0]),
                f"{social[bad[0]]} is outside the declared scale 0..{scale.social_max}",
            )


def _check_districts(ids: tuple[str, ...], loc: Loc, known: AbstractSet[str]) -> None:
    unknown = [i for i, d in enumerate(ids) if d not in known]
    if unknown:
        raise InvalidProblemError((*loc, "districts", unknown[0]), f"unknown district {ids[unknown[0]]!r}")


def _check_years(profile: tuple[int, ...] | None, loc: Loc, years: int) -> None:
    if profile is not None and len(profile) != years:
        raise InvalidProblemError(
            (*loc, "cost_profile"), f"has {len(profile)} years but the budget has {years}"
        )


def _check_app(
    app: Application,
    loc: Loc,
    districts: AbstractSet[str],
    groups: AbstractSet[str],
    n_social: int,
    years: int,
    scale: ScoreScale,
) -> None:
    _check_districts(app.districts, loc, districts)
    unknown = [i for i, g in enumerate(app.client_groups) if g not in groups]
    if unknown:
        raise InvalidProblemError(
            (*loc, "client_groups", unknown[0]), f"unknown client group {app.client_groups[unknown[0]]!r}"
        )
    _check_scores(app.outcome_score, app.social_scores, loc, n_social, scale)
    for panel, score in app.panel_scores.items():
        if panel == app.panel:
            raise InvalidProblemError(
                (*loc, "panel_scores", panel), "is the application's own panel (its score is outcome_score)"
            )
        _check_scores(score, None, (*loc, "panel_scores", panel), n_social, scale)
    _check_years(app.cost_profile, loc, years)


def _check_commitments(
    commitments: tuple[Commitment, ...], budget: Budget, districts: AbstractSet[str], groups: AbstractSet[str]
) -> None:
    """Ids unique, places known, one amount per budget year, and no year committed past its budget."""
    _unique("commitments", [c.id for c in commitments])
    for i, c in enumerate(commitments):
        loc: Loc = ("Problem", "commitments", i)
        if len(c.amounts) != budget.years:
            raise InvalidProblemError(
                (*loc, "amounts"),
                f"has {len(c.amounts)} years but the budget has {budget.years} (commitment {c.id!r})",
            )
        _check_districts(c.districts, loc, districts)
        unknown = [k for k, g in enumerate(c.client_groups) if g not in groups]
        if unknown:
            raise InvalidProblemError(
                (*loc, "client_groups", unknown[0]), f"unknown client group {c.client_groups[unknown[0]]!r}"
            )
    limits = budget.per_year or (budget.total,)
    for y, limit in enumerate(limits):
        committed = sum(c.amounts[y] for c in commitments)
        if committed > limit:
            raise InvalidProblemError(
                ("Problem", "commitments"),
                f"commit {committed} pence in budget year {y + 1}, more than its budget of {limit}",
            )


def _check_variant(
    var: Variant, loc: Loc, districts: AbstractSet[str], n_social: int, years: int, scale: ScoreScale
) -> None:
    _check_districts(var.districts or (), loc, districts)
    _check_scores(var.outcome_score, var.social_scores, loc, n_social, scale)
    _check_years(var.cost_profile, loc, years)
