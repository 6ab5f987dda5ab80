"""Synthetic anchor scores for the East Sussex reference round [SYNTHETIC, docs/scenarios.md].

The prospectus had each bid scored by one panel. To show anchor-based moderation on the
reference round, a few bids of each panel are given a second score by the next panel (panels
in name order, the last one scoring the first one's), drawn from the round's own latent model
(`east_sussex_2011_latent`): the true quality plus the second panel's bias plus fresh noise,
clipped to 0..100 and rounded to 0.1, as the first scores were. The second panel's scores
thus link every panel to the others in one ring.
"""

from __future__ import annotations

import numpy as np

from allocate.domain.errors import InvalidProblemError
from allocate.domain.model import Problem
from allocate.scenarios.east_sussex import east_sussex_2011_latent

ANCHOR_STREAM = 13
"""The random stream of the anchor scores, apart from the round's own draws."""


def east_sussex_anchors(problem: Problem, seed: int = 2011, per_panel: int = 3) -> Problem:
    """`problem` (an East Sussex round of this `seed`) with `per_panel` bids of each panel also
    scored by the next panel (`Application.panel_scores`); the input is not changed."""
    latent = east_sussex_2011_latent(seed)
    if tuple(a.id for a in problem.applications) != latent.application_ids:
        raise InvalidProblemError(
            ("east_sussex_anchors", "problem"), f"is not the East Sussex round of seed {seed}"
        )
    if per_panel < 1:
        raise InvalidProblemError(("east_sussex_anchors", "per_panel"), f"must be >= 1, not {per_panel}")
    rng = np.random.default_rng([seed, ANCHOR_STREAM])
    panels = sorted(set(latent.panels))
    hi = problem.scale.outcome_max
    second: dict[int, tuple[str, float]] = {}
    for k, p in enumerate(panels):
        q = panels[(k + 1) % len(panels)]
        own = [i for i, x in enumerate(latent.panels) if x == p]
        for i in sorted(rng.choice(own, size=min(per_panel, len(own)), replace=False).tolist()):
            raw = latent.true_quality[i] + latent.panel_bias[q] + rng.normal(0.0, latent.noise_sd)
            second[i] = (q, float(np.round(np.clip(raw, 0.0, hi), 1)))
    apps = tuple(
        a.model_copy(update={"panel_scores": {second[i][0]: second[i][1]}}) if i in second else a
        for i, a in enumerate(problem.applications)
    )
    return problem.replace(applications=apps)
