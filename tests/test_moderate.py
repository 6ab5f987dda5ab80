"""Panel moderation (issue 12 part 3): standardise, rank and anchor maps, the panel report,
raw vs moderated allocations, anchor scores in the files, the report section, and the
panel-level noise model of robustness.

The round: two panels scoring the same kind of bid; "lenient" adds 10 points to what
"strict" would give. Value = outcome score (score_sum); the budget funds two of four bids.

    bid  panel    score  (true)
    L1   lenient  90     80
    L2   lenient  80     70
    S1   strict   75     85
    S2   strict   55     65

Raw: L1 + L2 funded (170). Moderated to one footing: S1 outranks both lenient bids.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import allocate
from allocate import (
    Application,
    Budget,
    ClientGroup,
    District,
    InvalidProblemError,
    Problem,
    ScoreNoise,
    Variant,
    Weights,
    moderate,
    robustness,
)
from allocate.analysis.robustness import draw
from allocate.io import read_problem, write_problem
from allocate.presentation.report import html_report

POUND = 100


def round_(anchors: dict[str, dict[str, float]] | None = None, strict_shift: float = 0.0) -> Problem:
    bids = {
        "L1": ("lenient", 90.0),
        "L2": ("lenient", 80.0),
        "S1": ("strict", 75.0 + strict_shift),
        "S2": ("strict", 55.0 + strict_shift),
    }
    anchors = anchors or {}
    return Problem(
        applications=tuple(
            Application(
                id=k,
                organisation=f"Org {k}",
                client_groups=("g",),
                cost=100 * POUND,
                outcome_score=s,
                panel=panel,
                panel_scores=anchors.get(k, {}),
                variants=(Variant(id="small", cost=50 * POUND, outcome_score=s - 20),) if k == "S2" else (),
            )
            for k, (panel, s) in bids.items()
        ),
        districts=(District(id="D", population=1),),
        client_groups=(ClientGroup(id="g"),),
        budget=Budget(total=200 * POUND),
        weights=Weights(social_value_share=0.0, value_form="score_sum"),
    )


def own(m: allocate.Moderation, panel: str) -> np.ndarray:
    return np.array([a.outcome_score for a in m.problem.applications if a.panel == panel])


def test_standardise_maps_each_panel_to_the_all_panel_mean_and_spread() -> None:
    p = round_()
    before = p.model_dump()
    m = moderate(p, "standardise", allocations=False)
    every = np.array([a.outcome_score for a in p.applications])
    for panel in ("lenient", "strict"):
        assert own(m, panel).mean() == pytest.approx(every.mean())
        assert own(m, panel).std() == pytest.approx(every.std())
    assert p.model_dump() == before  # the input is untouched
    assert moderate(p, "standardise", allocations=False).problem == m.problem  # deterministic
    effect = {e.panel: e for e in m.panels}
    assert effect["strict"].shift == pytest.approx(every.mean() - 65.0)
    assert effect["lenient"].spread == pytest.approx(every.std() / 5.0)
    # The variant moves with its panel's map: the same affine map as its parent.
    s2 = m.problem.application("S2")
    factor = every.std() / 10.0
    assert s2.variants[0].outcome_score == pytest.approx(s2.outcome_score - 20 * factor)


def test_rank_keeps_the_order_within_each_panel_and_uses_only_overall_scores() -> None:
    p = round_()
    m = moderate(p, "rank", allocations=False)
    for panel in ("lenient", "strict"):
        scores = own(m, panel)
        assert scores[0] > scores[1]
    # Each panel's 25th and 75th percentile (mid-ranks of two bids), read off the four scores
    # 55, 75, 80, 90 at mid-ranks 1/8, 3/8, 5/8, 7/8: 65 and 85 for both panels alike.
    assert own(m, "lenient").tolist() == own(m, "strict").tolist() == [85.0, 65.0]
    # Two panels with the same scores: nothing moves.
    same = round_(strict_shift=15.0).replace(
        applications=tuple(
            a.model_copy(update={"outcome_score": {"S1": 90.0, "S2": 80.0}.get(a.id, a.outcome_score)})
            for a in round_().applications
        )
    )
    m2 = moderate(same, "rank", allocations=False)
    assert m2.scores == {a: (raw, raw) for a, (raw, _) in m2.scores.items()}


def test_anchor_recovers_a_constant_leniency_and_keeps_the_mean() -> None:
    # L2 was scored 70 by the strict panel too; S1 85 by the lenient panel: both say +10.
    p = round_({"L2": {"strict": 70.0}, "S1": {"lenient": 85.0}})
    m = moderate(p, "anchor", allocations=False)
    s = m.scores
    assert s["L1"][1] - s["L1"][0] == pytest.approx(-5.0)
    assert s["S1"][1] - s["S1"][0] == pytest.approx(5.0)
    assert np.mean([v for _, v in s.values()]) == pytest.approx(np.mean([r for r, _ in s.values()]))
    # After moderation the two panels agree on every shared bid.
    for a in m.problem.applications:
        for score in a.panel_scores.values():
            assert score == pytest.approx(a.outcome_score)
    assert {e.panel: e.anchors for e in m.panels} == {"lenient": 2, "strict": 2}


def test_anchor_errors_name_the_field_and_reason() -> None:
    with pytest.raises(InvalidProblemError, match=r"^moderate\.method: 'anchor' needs applications"):
        moderate(round_(), "anchor", allocations=False)
    three = round_({"L2": {"strict": 70.0}})
    lone = three.replace(
        applications=(
            *three.applications,
            Application(
                id="X", organisation="X", client_groups=("g",), cost=POUND, outcome_score=50.0, panel="third"
            ),
        )
    )
    with pytest.raises(InvalidProblemError, match="cannot relate panel\\(s\\) 'third'"):
        moderate(lone, "anchor", allocations=False)
    with pytest.raises(InvalidProblemError, match=r"^moderate\.method: unknown method 'median'"):
        moderate(round_(), "median", allocations=False)  # type: ignore[arg-type]


def test_scores_are_clipped_to_the_scale_and_counted() -> None:
    # S2 scored 65 by strict and 100 by lenient: offsets ±17.5, so S1 (85) would reach 102.5.
    p = round_({"S2": {"lenient": 100.0}}, strict_shift=10.0)
    m = moderate(p, "anchor", allocations=False)
    hi = p.scale.outcome_max
    assert all(0.0 <= a.outcome_score <= hi for a in m.problem.applications)
    assert m.clipped == 1 and m.scores["S1"] == (85.0, 100.0)
    assert "clipped" in m.text()


@pytest.mark.parametrize("backend", allocate.BACKENDS)
def test_moderated_solve_changes_the_awards_and_reports_per_panel(backend: str) -> None:
    p = round_({"L2": {"strict": 70.0}, "S1": {"lenient": 85.0}})
    m = moderate(p, "anchor", backend=backend)
    assert m.raw is not None and m.moderated is not None and m.comparison is not None
    assert m.raw.funded == {"L1", "L2"}
    assert m.moderated.funded == {"L1", "S1"}
    assert m.comparison.entered == ("S1",) and m.comparison.left == ("L2",)
    assert {e.panel: e.awards_changed for e in m.panels} == {"lenient": 1, "strict": 1}
    assert allocate.verify(m.problem, [(a.application, a.variant) for a in m.moderated.awards]).ok
    html = html_report(p, m.raw, moderation=m)
    assert "<h2>Panel effect</h2>" in html and "anchor" in html


def test_panel_scores_are_validated() -> None:
    with pytest.raises(InvalidProblemError, match=r"panel_scores\.lenient: is the application's own panel"):
        round_({"L1": {"lenient": 70.0}})
    with pytest.raises(InvalidProblemError, match=r"panel_scores\.strict.*outside the declared scale"):
        round_({"L1": {"strict": 170.0}})


@pytest.mark.parametrize("dest", ["p.json", "p.xlsx", "folder"])
def test_panel_scores_round_trip_through_every_format(tmp_path: Path, dest: str) -> None:
    p = round_({"L2": {"strict": 70.5}, "S1": {"lenient": 85.0}})
    write_problem(p, tmp_path / dest)
    assert read_problem(tmp_path / dest) == p


def test_panel_scores_table_errors_name_row_and_column(tmp_path: Path) -> None:
    write_problem(round_({"L2": {"strict": 70.0}}), tmp_path / "f")
    (tmp_path / "f" / "panel_scores.csv").write_text("application_id,panel,outcome_score\nZZ,strict,70\n")
    with pytest.raises(InvalidProblemError, match=r"panel_scores\.csv row 2, column application_id"):
        read_problem(tmp_path / "f")


def test_panel_noise_moves_a_panel_together() -> None:
    p = round_()
    noise = ScoreNoise(panel_sd=3.0, score_sd=4.0, social_sd=0.5)
    for outcome, social in draw(p, noise, 5, seed=1, noise_model="panel"):
        assert outcome[0] == outcome[1] and outcome[2] == outcome[3]  # L1, L2 | S1, S2
        assert np.all(social[0] == social[1]) and np.all(social[2] == social[3])
    # The default model's draws are unchanged by the new parameter.
    old = draw(p, noise, 3, seed=1)
    new = draw(p, noise, 3, seed=1, noise_model="application")
    assert all(
        np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(old, new, strict=True)
    )
    r = robustness(p, ScoreNoise(panel_sd=20.0), samples=8, seed=3, noise_model="panel")
    # Each panel moves as one: its two bids are funded together or not at all, unless the
    # other panel's shift is close enough to split them.
    assert r.solved == 8 and all(s is not None and len(s) == 2 for s in r.funded_sets)
    with pytest.raises(InvalidProblemError, match=r"^robustness\.noise_model"):
        robustness(p, samples=1, noise_model="bid")  # type: ignore[arg-type]


def test_east_sussex_anchor_scores_link_every_panel() -> None:
    from allocate.scenarios import east_sussex_2011
    from allocate.scenarios.anchors import east_sussex_anchors

    base = east_sussex_2011()
    p = east_sussex_anchors(base)
    assert p == east_sussex_anchors(base) and base.applications[0].panel_scores == {}
    panels = {a.panel for a in base.applications}
    assert {q for a in p.applications for q in a.panel_scores} == panels
    m = moderate(p, "anchor", allocations=False)
    assert len(m.panels) == len(panels) and not any(math.isnan(e.shift) for e in m.panels)
    assert np.mean([v for _, v in m.scores.values()]) == pytest.approx(
        np.mean([r for r, _ in m.scores.values()]), abs=0.05
    )


def test_panel_scores_are_read_only_and_the_application_hashable() -> None:
    import copy
    import pickle

    from allocate import Application

    kw: dict[str, Any] = dict(
        id="A", organisation="O", client_groups=("g",), cost=100, outcome_score=50, panel="p1"
    )
    a = Application(**kw, panel_scores={"p2": 40.0})
    assert hash(a) == hash(Application(**kw, panel_scores={"p2": 40.0}))
    with pytest.raises(TypeError, match="read-only"):
        a.panel_scores["p2"] = -5.0  # type: ignore[index]
    assert a.panel_scores == {"p2": 40.0}
    assert copy.deepcopy(a) == a and pickle.loads(pickle.dumps(a)) == a
    assert Application.model_validate_json(a.model_dump_json()) == a
