"""One focused test per rule type, on a tiny round whose answers are worked out by hand.

The round: four bids, value = outcome score (score_sum form, no social weight), so a
bid's value is its score. Budget £1,000; all four cost £1,200.

    bid  org  group   district  cost   score
    A    O1   carers  H         £400   90
    B    O1   older   R         £300   80
    C    O2   carers  R         £300   70
    D    O3   older   H         £200   40

Unconstrained optimum: A+B+C = 240 (£1,000, budget binding). Next best: A+B+D = 210,
A+C+D = 200, B+C+D = 190, A+B = 170. Every expected answer is also confirmed by brute
force, so a wrong hand calculation fails loudly rather than silently.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import allocate
from allocate import (
    Allocation,
    Application,
    Budget,
    ClientGroup,
    Coverage,
    District,
    EqualityGap,
    Exclusive,
    Lock,
    MinOrganisations,
    NoNewGaps,
    OrganisationCap,
    PassMark,
    Pot,
    Problem,
    Requires,
    RuleReport,
    Variant,
    Weights,
    solve,
    verify,
)
from brute import brute_force

BACKENDS = allocate.BACKENDS
POUND = 100


def app(id: str, org: str, group: str, district: str, pounds: int, score: float, **kw: Any) -> Application:
    fields: dict[str, Any] = {
        "id": id,
        "organisation": org,
        "client_groups": (group,),
        "districts": (district,),
        "cost": pounds * POUND,
        "outcome_score": score,
    }
    return Application(**(fields | kw))


def round_(rules: tuple[Any, ...] = (), *, budget: Budget | None = None, **app_kw: dict[str, Any]) -> Problem:
    base = {
        "A": ("O1", "carers", "H", 400, 90),
        "B": ("O1", "older", "R", 300, 80),
        "C": ("O2", "carers", "R", 300, 70),
        "D": ("O3", "older", "H", 200, 40),
    }
    apps = tuple(app(k, *v, **app_kw.get(k, {})) for k, v in base.items())
    return Problem(
        applications=apps,
        districts=(District(id="H", population=100), District(id="R", population=300)),
        client_groups=(ClientGroup(id="carers"), ClientGroup(id="older")),
        budget=budget or Budget(total=1000 * POUND),
        rules=rules,
        weights=Weights(social_value_share=0.0, value_form="score_sum"),
    )


def solved(
    problem: Problem, expected_value: float, expected_funded: set[str] | None, backend: str
) -> Allocation:
    """Solve with one backend; check value (and funded set, when unique) against the hand answer."""
    truth = brute_force(problem)
    assert truth.value == pytest.approx(expected_value), "hand calculation disagrees with brute force"
    a = solve(problem, backend)
    assert a.status == "optimal", (backend, a.status, a.message)
    assert a.value == pytest.approx(expected_value), (backend, a.value)
    if expected_funded is not None:
        assert a.funded == expected_funded, (backend, a.funded)
    assert a.verified
    return a


def row(a: Allocation, label: str) -> RuleReport:
    rows = [r for r in a.rules_report if r.label == label]
    assert len(rows) == 1, f"{label!r} not in {[r.label for r in a.rules_report]}"
    return rows[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_rules_baseline(backend: str) -> None:
    a = solved(round_(), 240, {"A", "B", "C"}, backend)
    r = row(a, "Budget[total]")
    assert (r.achieved, r.limit, r.slack, r.binding, r.ok) == (100_000, 100_000, 0, True, True)
    assert a.total == 100_000


# --------------------------------------------------------------------------- built-in rules
@pytest.mark.parametrize("backend", BACKENDS)
def test_budget_total(backend: str) -> None:
    """£700: the best pair is A+B or A+C (170); the budget binds."""
    a = solved(round_(budget=Budget(total=700 * POUND)), 170, None, backend)
    assert a.funded in ({"A", "B"}, {"A", "C"})
    assert row(a, "Budget[total]").binding
    a = solved(round_(budget=Budget(total=5000 * POUND)), 280, {"A", "B", "C", "D"}, backend)
    r = row(a, "Budget[total]")
    assert r.ok and not r.binding and r.slack == 3800 * POUND


@pytest.mark.parametrize("backend", BACKENDS)
def test_budget_per_year(backend: str) -> None:
    """Two years; A and B are paid in year 1, C and D evenly. Year 1 has £600, year 2 £400.

    A+B needs £700 in year 1, so the best is B+C+D (year 1: 300+150+100 = £550) = 190.
    """
    profiles = {
        "A": {"cost_profile": (400 * POUND, 0)},
        "B": {"cost_profile": (300 * POUND, 0)},
    }
    problem = round_(budget=Budget(total=1000 * POUND, per_year=(600 * POUND, 400 * POUND)), **profiles)
    a = solved(problem, 190, {"B", "C", "D"}, backend)
    y1, y2 = row(a, "Budget[year=1]"), row(a, "Budget[year=2]")
    assert (y1.achieved, y2.achieved) == (550 * POUND, 250 * POUND)
    assert y1.ok and y2.ok and not y1.binding
    assert {w.application: w.profile for w in a.awards}["C"] == (150 * POUND, 150 * POUND)
    # Without yearly limits (one year) the same total allows A+B+C.
    solved(round_(budget=Budget(total=1000 * POUND)), 240, {"A", "B", "C"}, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_budget_per_year_splits_unprofiled_costs_evenly(backend: str) -> None:
    """A bid without a profile is spread evenly over the years, odd pence to the earliest."""
    problem = Problem(
        applications=(
            Application(id="X", organisation="O", client_groups=("g",), cost=1001, outcome_score=50),
        ),
        districts=(District(id="H", population=1),),
        client_groups=(ClientGroup(id="g"),),
        budget=Budget(total=3000, per_year=(1000, 1000, 1000)),
    )
    a = solve(problem, backend)
    assert a.awards[0].profile == (334, 334, 333)


@pytest.mark.parametrize("backend", BACKENDS)
def test_variants_at_most_one_option(backend: str) -> None:
    """A's variant (£200, score 60) frees money for D: Av+B+C+D = 250 beats A+B+C = 240."""
    problem = round_(A={"variants": (Variant(id="Av", cost=200 * POUND, outcome_score=60),)})
    a = solved(problem, 250, {"A", "B", "C", "D"}, backend)
    assert {w.application: w.variant for w in a.awards}["A"] == "Av"
    assert len(a.awards) == 4
    # Funding both options of A is not allowed, even though the budget would allow it.
    check = verify(problem, [("A", None), ("A", "Av")])
    assert not check.ok and any("Variants[A]" in v for v in check.violations)


# --------------------------------------------------------------------------- rules
@pytest.mark.parametrize("backend", BACKENDS)
def test_pot_ring_fenced(backend: str) -> None:
    """Small grants (≤ £300) get a ring-fenced £700: other bids share only £300, so A (£400) cannot be funded."""
    pot = Pot(max_per_year=300 * POUND, amount=700 * POUND, ring_fenced=True)
    a = solved(round_((pot,)), 150, {"B", "C"}, backend)
    assert row(a, "Pot[small grants]").achieved == 600 * POUND
    assert row(a, "Pot[small grants: rest of budget]").achieved == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_pot_not_ring_fenced(backend: str) -> None:
    """Without the ring fence the £700 is only a cap on small grants: A+B+C (small grants £600) stands."""
    pot = Pot(max_per_year=300 * POUND, amount=700 * POUND, ring_fenced=False)
    a = solved(round_((pot,)), 240, {"A", "B", "C"}, backend)
    assert not any(r.label.endswith("rest of budget]") for r in a.rules_report)
    r = row(a, "Pot[small grants]")
    assert r.ok and not r.binding


@pytest.mark.parametrize("backend", BACKENDS)
def test_pot_cap_binds(backend: str) -> None:
    """Small grants capped at £300: only one of B, C, D fits; best is A+B = 170, pot binding."""
    pot = Pot(max_per_year=300 * POUND, amount=300 * POUND, ring_fenced=False)
    a = solved(round_((pot,)), 170, {"A", "B"}, backend)
    assert row(a, "Pot[small grants]").binding


@pytest.mark.parametrize("backend", BACKENDS)
def test_coverage_min_amount_district(backend: str) -> None:
    """H must get ≥ £600: both H bids (A, D) are needed: A+B+D = 210, binding."""
    a = solved(
        round_((Coverage(over="district", key="H", min_amount=600 * POUND),)), 210, {"A", "B", "D"}, backend
    )
    r = row(a, "Coverage.min_amount[district=H]")
    assert r.achieved == pytest.approx(600 * POUND) and r.binding and r.ok


@pytest.mark.parametrize("backend", BACKENDS)
def test_coverage_max_share_client_group(backend: str) -> None:
    """Carers may get at most half the money: A+B+C gives them 70%; A+B+D gives 44%: 210."""
    a = solved(
        round_((Coverage(over="client_group", key="carers", max_share=0.5),)), 210, {"A", "B", "D"}, backend
    )
    r = row(a, "Coverage.max_share[client_group=carers]")
    assert r.achieved == pytest.approx(400 * POUND) and r.limit == pytest.approx(450 * POUND)
    assert r.ok and not r.binding


@pytest.mark.parametrize("backend", BACKENDS)
def test_coverage_min_share_every_group(backend: str) -> None:
    """key=None: every group needs ≥ 40% of the money. A+B+C gives older 30%; A+B+D gives 55%/44%: 210."""
    a = solved(round_((Coverage(over="client_group", min_share=0.4),)), 210, {"A", "B", "D"}, backend)
    labels = {r.label for r in a.rules_report}
    assert {"Coverage.min_share[client_group=carers]", "Coverage.min_share[client_group=older]"} <= labels


@pytest.mark.parametrize("backend", BACKENDS)
def test_coverage_max_count_district(backend: str) -> None:
    """At most one award in R (B or C): A+B+D = 210, count binding."""
    a = solved(round_((Coverage(over="district", key="R", max_count=1),)), 210, {"A", "B", "D"}, backend)
    r = row(a, "Coverage.max_count[district=R]")
    assert (r.achieved, r.limit, r.binding) == (1, 1, True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_coverage_cell(backend: str) -> None:
    """The H:older cell (only D) must get some money: A+B+D = 210."""
    a = solved(round_((Coverage(over="cell", key="H:older", min_amount=1),)), 210, {"A", "B", "D"}, backend)
    assert row(a, "Coverage.min_amount[cell=H:older]").achieved == pytest.approx(200 * POUND)


@pytest.mark.parametrize("backend", BACKENDS)
def test_coverage_every_cell_infeasible(backend: str) -> None:
    """Every cell needs an award: that is all four bids, £1,200 > £1,000."""
    problem = round_((Coverage(over="cell", min_count=1),))
    assert brute_force(problem).value is None
    a = solve(problem, backend)
    assert a.status == "infeasible" and "Budget[total]" in a.conflict
    assert any(c.startswith("Coverage.min_count[cell=") for c in a.conflict)


@pytest.mark.parametrize("backend", BACKENDS)
def test_coverage_pro_rata_attribution(backend: str) -> None:
    """A county-wide bid's money splits by population (H 100 : R 300): £400 gives H £100."""
    problem = round_(
        (Coverage(over="district", key="H", max_amount=250 * POUND),),
        A={"districts": ()},
    )
    # A+B+C: H gets 100 (from A) ≤ 250, fine; the rule does not bind.
    a = solved(problem, 240, {"A", "B", "C"}, backend)
    assert row(a, "Coverage.max_amount[district=H]").achieved == pytest.approx(100 * POUND)


@pytest.mark.parametrize("backend", BACKENDS)
def test_equality_gap_tolerance(backend: str) -> None:
    """Equal need: each district's share of the money within ±10 points of 50%.

    A+B+C gives H exactly 40%, on the edge of the band: allowed, and binding. With ±5
    points no non-empty allocation fits (shares available: 0, 25, 40, 57, 67, 100%), so the
    optimum is to fund nothing.
    """
    a = solved(round_((EqualityGap(over="district", tolerance=0.1),)), 240, {"A", "B", "C"}, backend)
    r = row(a, "EqualityGap.low[district=H]")
    assert r.achieved == pytest.approx(400 * POUND) and r.limit == pytest.approx(400 * POUND)
    assert r.binding and r.ok
    solved(round_((EqualityGap(over="district", tolerance=0.05),)), 0, set(), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_equality_gap_ratio_population(backend: str) -> None:
    """Population basis (H 25%, R 75%), ratio 0.8..1.25: H's share within 20%..31.25%.

    B+C+D: H 200/800 = 25% fits: 190. Anything with A gives H ≥ 40%... A+B+C gives exactly 40%: no.
    """
    rule = EqualityGap(over="district", basis="population", ratio=(0.8, 1.25))
    solved(round_((rule,)), 190, {"B", "C", "D"}, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_new_gaps_continuing_service(backend: str) -> None:
    """D continues a service in H:older, so that cell must keep an award: A+B+D = 210."""
    a = solved(round_((NoNewGaps(),), D={"continues_service": True}), 210, {"A", "B", "D"}, backend)
    r = row(a, "NoNewGaps[H:older]")
    assert (r.achieved, r.limit, r.binding) == (1, 1, True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_new_gaps_explicit_cells(backend: str) -> None:
    solved(round_((NoNewGaps(cells=("H:older",)),)), 210, {"A", "B", "D"}, backend)
    # No bid continues a service and no cells are named: the rule asks nothing.
    a = solved(round_((NoNewGaps(),)), 240, {"A", "B", "C"}, backend)
    assert not any(r.label.startswith("NoNewGaps") for r in a.rules_report)


@pytest.mark.parametrize("backend", BACKENDS)
def test_organisation_cap_awards(backend: str) -> None:
    """O1 (A, B) may have one award: A+C+D = 200."""
    a = solved(round_((OrganisationCap(organisation="O1", max_awards=1),)), 200, {"A", "C", "D"}, backend)
    assert row(a, "OrganisationCap.max_awards[O1]").binding


@pytest.mark.parametrize("backend", BACKENDS)
def test_organisation_cap_amount(backend: str) -> None:
    """O1 may receive at most £450: A+C+D = 200 (O1 £400)."""
    a = solved(
        round_((OrganisationCap(organisation="O1", max_amount=450 * POUND),)), 200, {"A", "C", "D"}, backend
    )
    r = row(a, "OrganisationCap.max_amount[O1]")
    assert r.achieved == 400 * POUND and r.ok and not r.binding


@pytest.mark.parametrize("backend", BACKENDS)
def test_organisation_cap_share_every_organisation(backend: str) -> None:
    """No organisation above half the money: A+B+C gives O1 70%; A+C+D gives O1 44%: 200."""
    a = solved(round_((OrganisationCap(max_share=0.5),)), 200, {"A", "C", "D"}, backend)
    assert {r.label for r in a.rules_report} >= {
        f"OrganisationCap.max_share[{o}]" for o in ("O1", "O2", "O3")
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_min_organisations(backend: str) -> None:
    """Three organisations must be funded, so D (O3) is in: A+C+D = 200."""
    a = solved(round_((MinOrganisations(count=3),)), 200, {"A", "C", "D"}, backend)
    r = row(a, "MinOrganisations")
    assert (r.achieved, r.limit, r.binding) == (3, 3, True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_min_organisations_infeasible(backend: str) -> None:
    problem = round_((MinOrganisations(count=4),))
    a = solve(problem, backend)
    assert a.status == "infeasible" and a.conflict == ("MinOrganisations",)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pass_mark_outcome(backend: str) -> None:
    """Only bids scoring ≥ 75 (A, B): A+B = 170."""
    a = solved(round_((PassMark(min_outcome=75),)), 170, {"A", "B"}, backend)
    r = row(a, "PassMark")
    assert r.achieved == 0 and r.ok


@pytest.mark.parametrize("backend", BACKENDS)
def test_pass_mark_social_uses_plain_mean(backend: str) -> None:
    """C's social scores average 1.5 < 2: C is out, A+B+D = 210."""
    social = {k: {"social_scores": (3.0,) * 6} for k in "ABD"}
    social["C"] = {"social_scores": (3.0, 0.0, 3.0, 0.0, 3.0, 0.0)}
    solved(round_((PassMark(min_social=2.0),), **social), 210, {"A", "B", "D"}, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pass_mark_applies_to_variants_own_scores(backend: str) -> None:
    """A's variant scores 60 and fails a pass mark of 75, though A itself passes."""
    problem = round_(
        (PassMark(min_outcome=75),), A={"variants": (Variant(id="Av", cost=200 * POUND, outcome_score=60),)}
    )
    a = solved(problem, 170, {"A", "B"}, backend)
    assert all(w.variant is None for w in a.awards)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lock_fund(backend: str) -> None:
    a = solved(round_((Lock(application="D"),)), 210, {"A", "B", "D"}, backend)
    assert row(a, "Lock[fund D]").ok


@pytest.mark.parametrize("backend", BACKENDS)
def test_lock_exclude(backend: str) -> None:
    a = solved(round_((Lock(application="A", fund=False),)), 190, {"B", "C", "D"}, backend)
    r = row(a, "Lock[exclude A]")
    assert r.achieved == 0 and r.ok


@pytest.mark.parametrize("backend", BACKENDS)
def test_lock_variant(backend: str) -> None:
    """Locking A as submitted forbids the (better) variant: 240 instead of 250."""
    variants = {"A": {"variants": (Variant(id="Av", cost=200 * POUND, outcome_score=60),)}}
    a = solved(round_((Lock(application="A", variant="A"),), **variants), 240, {"A", "B", "C"}, backend)
    assert {w.application: w.variant for w in a.awards}["A"] is None
    a = solved(round_((Lock(application="A", variant="Av"),), **variants), 250, {"A", "B", "C", "D"}, backend)
    assert {w.application: w.variant for w in a.awards}["A"] == "Av"


@pytest.mark.parametrize("backend", BACKENDS)
def test_exclusive(backend: str) -> None:
    """A and B are duplicate bids: at most one. A+C+D = 200."""
    a = solved(round_((Exclusive(applications=("A", "B")),)), 200, {"A", "C", "D"}, backend)
    assert row(a, "Exclusive[A,B]").binding


@pytest.mark.parametrize("backend", BACKENDS)
def test_exclusive_at_most_two(backend: str) -> None:
    solved(round_((Exclusive(applications=("A", "B", "C"), at_most=2),)), 210, {"A", "B", "D"}, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_requires(backend: str) -> None:
    """A only if D: A+B+D = 210 beats B+C+D = 190."""
    a = solved(round_((Requires(application="A", requires="D"),)), 210, {"A", "B", "D"}, backend)
    assert row(a, "Requires[A->D]").ok


@pytest.mark.parametrize("backend", BACKENDS)
def test_requires_counts_variants(backend: str) -> None:
    """Funding a variant of the required bid satisfies Requires."""
    problem = round_(
        (Requires(application="A", requires="D"),),
        D={"variants": (Variant(id="Dv", cost=100 * POUND, outcome_score=30),)},
    )
    # A+B+C is not allowed (A needs D); A+B+D (£900) = 210 beats A+B+Dv (£800) = 200.
    solved(problem, 210, {"A", "B", "D"}, backend)
    assert verify(problem, [("A", None), ("D", "Dv")]).ok


# -- row metadata -------------------------------------------------------------------------


def test_row_metadata_is_stated_once_where_rows_are_made() -> None:
    """Every rule's compiled rows and checked rows carry the same labels and units; the
    structural rows (T's definition, MinOrganisations' links) are flagged, and each row names
    its kind of rule."""
    rules = (
        Pot(max_per_year=250 * POUND, amount=300 * POUND),
        Coverage(over="district", min_amount=1, max_share=0.9, min_count=1),
        Coverage(over="cell", key="H:carers", max_amount=900 * POUND, min_share=0.0, max_count=3),
        EqualityGap(over="district", tolerance=0.5),
        NoNewGaps(cells=("R:older",)),
        OrganisationCap(max_amount=700 * POUND, max_share=0.8, max_awards=2),
        MinOrganisations(count=2),
        PassMark(min_outcome=10),
        Lock(application="A"),
        Exclusive(applications=("C", "D")),
        Requires(application="B", requires="A"),
    )
    problem = round_(rules, budget=Budget(total=1000 * POUND, per_year=(1000 * POUND,)))
    model = allocate.compile_problem(problem)
    checks = verify(problem, [("A", None), ("B", None)]).checks
    checked = {c.label: c.unit for c in checks}
    compiled = {
        label: ("pence" if unit == "share" else str(unit))
        for label, unit, structural in zip(
            model.row_labels, model.row_unit, model.row_structural, strict=True
        )
        if not structural
    }
    assert compiled == checked
    assert len(compiled) == len(model.row_labels) - model.row_structural.sum() == len(checks)
    structural = {lbl for lbl, s in zip(model.row_labels, model.row_structural, strict=True) if s}
    assert structural == {
        "Total",
        "MinOrganisations.link[O1]",
        "MinOrganisations.link[O2]",
        "MinOrganisations.link[O3]",
    }
    units = dict(zip(model.row_labels, model.row_unit, strict=True))
    assert units["Coverage.max_share[district=H]"] == units["EqualityGap.low[district=R]"] == "share"
    assert units["OrganisationCap.max_amount[O1]"] == units["Budget[year=1]"] == "pence"
    assert units["MinOrganisations"] == "organisations" and units["Lock[fund A]"] == "awards"
    kinds = dict(zip(model.row_labels, model.row_kind, strict=True))
    assert kinds["Budget[total]"] == "budget" and kinds["Total"] == "total awarded"
    assert kinds["EqualityGap.high[district=H]"] == EqualityGap.display_name == "equality gap rule"
    assert kinds["OrganisationCap.max_share[O2]"] == "organisation cap"
    assert [r.equity for r in rules] == [
        False,
        True,
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_row_metadata_follows_rows_added_or_dropped() -> None:
    from allocate.engine.conflict import restrict

    model = allocate.compile_problem(round_((MinOrganisations(count=2), Lock(application="D"))))
    coefs = np.concatenate([model.cost, np.zeros(model.n_vars - model.n)])
    more = model.with_row(coefs, 0.0, 500.0, "Analysis[test]")
    assert more.row_labels[-1] == "Analysis[test]" and more.row_unit[-1] == "value"
    assert not more.row_structural[-1] and more.row_kind[-1] == "analysis row"
    keep = ~model.row_structural
    fewer = restrict(model, keep)
    assert fewer.row_labels == tuple(lbl for lbl, k in zip(model.row_labels, keep, strict=True) if k)
    assert list(fewer.row_unit) == list(model.row_unit[keep]) and not fewer.row_structural.any()
    with pytest.raises(ValueError, match="row_unit"):
        import dataclasses

        dataclasses.replace(model, row_unit=model.row_unit[:-1])
