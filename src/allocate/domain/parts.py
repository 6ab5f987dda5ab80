"""The parts of a grants round as validated, immutable data, and `Round`: a round as its parts see it.

Applications (and their negotiated variants), districts, client groups, organisations, the
budget, the weights and score scale, and commitments from earlier rounds. `Problem`
(`allocate.domain.model`) puts them together with the rules and checks them across fields.

Money is integer pence throughout. Every model rejects bad input with an
`InvalidProblemError` naming the field and the reason; nothing is coerced silently.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol

from pydantic import Field, StrictBool, StrictInt, ValidationInfo, field_validator

from allocate.domain.schema import (
    MAX_COUNT,
    MAX_SCORE,
    Count,
    Frozen,
    Key,
    Name,
    Pence,
    PenceOrZero,
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


CountsToward = Literal["coverage", "equality_gap", "organisation_cap", "min_spend"]
"""The rules (by kind) a commitment's money and award may count toward."""


class Commitment(Frozen):
    """A grant from an earlier round that still pays out in this round's budget years."""

    id: Name
    organisation: Name
    amounts: tuple[PenceOrZero, ...] = Field(
        min_length=1, description="pence in each budget year of this round"
    )
    client_groups: tuple[Key, ...] = Field(min_length=1)
    districts: tuple[Key, ...] = Field(default=(), description="districts served; empty means county-wide")
    tags: tuple[Name, ...] = ()
    counts_toward: tuple[CountsToward, ...] = Field(
        default=(), description="rules its money and award count toward (beyond budget and NoNewGaps)"
    )

    @field_validator("client_groups", "districts", "tags", "counts_toward")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return no_repeats(v)

    @property
    def total(self) -> int:
        """Pence paid over this round's budget years."""
        return sum(self.amounts)

    def counts(self, kind: CountsToward) -> bool:
        return kind in self.counts_toward


def as_weights(problem: Round, w: Weights | float) -> Weights:
    """A Weights from a Weights or a bare social value share (other fields from the problem)."""
    if isinstance(w, Weights):
        return w
    return Weights(**{**problem.weights.model_dump(), "social_value_share": float(w)})


class Round(Protocol):
    """A round as the modules below `Problem` read it (columns, candidates, tally, commitments,
    rules): its parts, its tags, an application by id. `Problem` is the one implementation;
    stated here so that those modules need not import the module that imports them."""

    @property
    def applications(self) -> tuple[Application, ...]: ...
    @property
    def districts(self) -> tuple[District, ...]: ...
    @property
    def client_groups(self) -> tuple[ClientGroup, ...]: ...
    @property
    def organisations(self) -> tuple[Organisation, ...]: ...
    @property
    def commitments(self) -> tuple[Commitment, ...]: ...
    @property
    def budget(self) -> Budget: ...
    @property
    def weights(self) -> Weights: ...
    @property
    def scale(self) -> ScoreScale: ...
    @property
    def social_objectives(self) -> tuple[str, ...]: ...
    @property
    def attribution(self) -> Attribution: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    def tags_of(self, application: Application) -> tuple[str, ...]: ...
    def application(self, application_id: str) -> Application: ...
