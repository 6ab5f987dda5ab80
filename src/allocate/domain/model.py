"""The domain model: a grants round as validated, immutable data.

Money is integer pence throughout. Every model rejects bad input with an
`InvalidProblemError` naming the field and the reason; nothing is coerced silently.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import Field, StrictBool, StrictInt, ValidationInfo, field_validator, model_validator

from allocate.domain.columns import application_tags, built
from allocate.domain.commitments import Commitment
from allocate.domain.errors import InvalidProblemError, Loc
from allocate.domain.rules import Rule
from allocate.domain.schema import (
    MAX_COUNT,
    MAX_SCORE,
    Count,
    Frozen,
    Key,
    Name,
    Pence,
    Score,
    Text,
    Weight,
    no_repeats,
)

SOCIAL_OBJECTIVES: tuple[str, ...] = ("SC1", "SC2", "SC3", "SC4", "SC5", "SC6")
"""Default codes of the six building-social-capital objectives (placeholders, see docs)."""


class District(Frozen):
    """A geographic area served: population for pro-rata attribution, need for equality rules."""

    id: Key
    population: Annotated[int, Field(strict=True, gt=0, le=MAX_COUNT)]
    need: Annotated[Weight, Field(gt=0)] = 1.0


class ClientGroup(Frozen):
    """A client group of the prospectus (carers, older people, ...); need is its relative weight."""

    id: Key
    need: Annotated[Weight, Field(gt=0)] = 1.0


class Variant(Frozen):
    """A negotiated option of an application: usually cheaper, with lower scores.

    Fields left unset inherit the parent application's values.
    """

    id: Name
    cost: Pence
    cost_profile: tuple[StrictInt, ...] | None = None
    outcome_score: Score | None = None
    social_scores: tuple[Score, ...] | None = None
    districts: tuple[Key, ...] | None = None
    beneficiaries: Count | None = None

    @field_validator("cost_profile")
    @classmethod
    def _profile(cls, v: tuple[int, ...] | None, info: ValidationInfo) -> tuple[int, ...] | None:
        return _valid_profile(v, info)


class PanelScores(dict[str, float]):
    """Outcome scores by panel, read-only and hashable like the rest of an Application."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def __reduce__(self) -> tuple[type[PanelScores], tuple[dict[str, float]]]:
        return (PanelScores, (dict(self),))  # copy and pickle rebuild it whole, not key by key

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("Application.panel_scores is read-only: make a new Application (model_copy)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _read_only  # type: ignore[assignment]


class Application(Frozen):
    """A bid: one candidate award (plus its negotiated variants)."""

    id: Name
    organisation: Name
    title: Text = ""
    client_groups: tuple[Key, ...] = Field(min_length=1)
    districts: tuple[Key, ...] = Field(default=(), description="districts served; empty means county-wide")
    cost: Pence
    cost_profile: tuple[StrictInt, ...] | None = Field(
        default=None, description="pence per budget year; must sum to cost"
    )
    outcome_score: Score
    social_scores: tuple[Score, ...] = Field(default=(0.0,) * 6)
    panel: Text = ""
    beneficiaries: Count | None = None
    equality_groups: tuple[Key, ...] = ()
    continues_service: StrictBool = False
    variants: tuple[Variant, ...] = ()
    tags: tuple[Name, ...] = Field(
        default=(), description="facts about the bid (e.g. 'new provider'); rules can select by tag"
    )
    panel_scores: dict[Text, Score] = Field(
        default_factory=dict,
        description="outcome scores other panels gave this bid (an anchor for moderation), by panel",
    )

    @field_validator("cost_profile")
    @classmethod
    def _profile(cls, v: tuple[int, ...] | None, info: ValidationInfo) -> tuple[int, ...] | None:
        return _valid_profile(v, info)

    @field_validator("panel_scores")
    @classmethod
    def _frozen_scores(cls, v: dict[str, float]) -> dict[str, float]:
        return PanelScores(v)

    def __hash__(self) -> int:
        # panel_scores may be a plain dict where model_copy(update=...) put one in unvalidated.
        fields = tuple(
            (k, tuple(sorted(v.items())) if k == "panel_scores" else v) for k, v in self.__dict__.items()
        )
        return hash((type(self), fields))

    @field_validator("districts", "client_groups", "tags")
    @classmethod
    def _no_repeats(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return no_repeats(v)

    @field_validator("variants")
    @classmethod
    def _distinct_variants(cls, v: tuple[Variant, ...], info: ValidationInfo) -> tuple[Variant, ...]:
        ids = [var.id for var in v]
        if len(set(ids)) != len(ids) or info.data.get("id") in ids:
            raise ValueError("variant ids must be unique and differ from the application id")
        return v


def _valid_profile(v: tuple[int, ...] | None, info: ValidationInfo) -> tuple[int, ...] | None:
    """Yearly amounts are >= 0 and sum exactly to the cost (validated before the profile)."""
    if v is None:
        return v
    if any(p < 0 for p in v):
        raise ValueError("yearly amounts must be >= 0 pence")
    cost = info.data.get("cost")
    if cost is not None and sum(v) != cost:
        raise ValueError(f"sums to {sum(v)} pence but cost is {cost}")
    return v


class Organisation(Frozen):
    """Facts that belong to an organisation rather than one bid: its tags (e.g. 'user-led').

    Every application of the organisation carries these tags as well as its own.
    """

    id: Name
    tags: tuple[Name, ...] = ()

    @field_validator("tags")
    @classmethod
    def _no_repeats(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return no_repeats(v)


class Budget(Frozen):
    """The envelope: a total and, optionally, a limit for each year."""

    total: Pence
    per_year: tuple[Pence, ...] | None = None

    @field_validator("per_year")
    @classmethod
    def _years_sum(cls, v: tuple[int, ...] | None, info: ValidationInfo) -> tuple[int, ...] | None:
        total = info.data.get("total")
        if v is not None and total is not None and sum(v) != total:
            raise ValueError(f"limits sum to {sum(v)} pence but total is {total}")
        return v

    @property
    def years(self) -> int:
        return 1 if self.per_year is None else len(self.per_year)


ValueForm = Literal["quality_pounds", "score_sum", "score_beneficiaries"]


class Weights(Frozen):
    """How outcome and social-capital scores combine into the value maximised.

    A normalised score s = (1 - w)·outcome/outcome_max + w·(weighted mean of social
    scores)/social_max lies in [0, 1]; `value_form` turns it into value:

    * ``quality_pounds``: s × award in pounds (default; avoids the score-sum bias to tiny grants),
    * ``score_sum``: 100·s per award (biased towards many small awards),
    * ``score_beneficiaries``: s × beneficiaries.
    """

    social_value_share: Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)] = 0.2
    social_objective_weights: tuple[Weight, ...] | None = None
    value_form: ValueForm = "quality_pounds"

    @field_validator("social_objective_weights")
    @classmethod
    def _some_weight(cls, v: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if v is not None and not any(w > 0 for w in v):
            raise ValueError("at least one social objective weight must be > 0")
        return v


class ScoreScale(Frozen):
    """The declared maxima of the outcome and social-capital scores (minimum 0)."""

    outcome_max: Annotated[float, Field(strict=True, gt=0, le=MAX_SCORE, allow_inf_nan=False)] = 100.0
    social_max: Annotated[float, Field(strict=True, gt=0, le=MAX_SCORE, allow_inf_nan=False)] = 5.0


Attribution = Literal["population", "need"]


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
