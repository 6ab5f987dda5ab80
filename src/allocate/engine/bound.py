"""A proven upper bound on any allocation's value, in seconds, from the budget alone.

Large rounds can stop at their time limit before a solver reports a bound; this one still
proves a gap for the allocation found (see `solve`).
"""

from __future__ import annotations

import math

import numpy as np

from allocate.engine.compile import BUDGET_RULE, CompiledProblem


def budget_bound(model: CompiledProblem, objective: np.ndarray) -> float | None:
    """An upper bound on any allocation's value: the best fractional fill of a budget row.

    Every other rule is relaxed and awards may be taken in part, so no allocation is worth
    more (Dantzig's bound for a knapsack; the least over the total and yearly budget rows).
    It gives a proven gap in seconds on rounds where a solver has not yet reported a bound.
    """
    n = model.n
    if np.any(model.var_lb[:n] != 0):
        return None  # compile gives every award a lower bound of 0 (locks are rows)
    value = np.where(model.var_ub[:n] >= 1, objective[:n], 0.0)
    csr = model.A.tocsr()
    best: float | None = None
    for r in np.flatnonzero((model.row_rule == BUDGET_RULE) & np.isfinite(model.row_hi)).tolist():
        part = slice(csr.indptr[r], csr.indptr[r + 1])
        weight = np.zeros(model.n_vars)
        weight[csr.indices[part]] = csr.data[part]
        if np.any(weight < 0) or np.any(weight[n:] != 0):
            continue
        w = weight[:n]
        room = float(model.row_hi[r])
        free = value > 0
        fixed = math.fsum(value[free & (w == 0)])
        items = np.flatnonzero(free & (w > 0))
        items = items[np.argsort(-value[items] / w[items], kind="stable")]
        used = np.cumsum(w[items])
        whole = int(np.searchsorted(used, room, side="right"))
        total = fixed + math.fsum(value[items[:whole]])
        if whole < len(items):
            left = room - (float(used[whole - 1]) if whole else 0.0)
            total += max(0.0, left) / float(w[items[whole]]) * float(value[items[whole]])
        total *= 1 + 1e-9  # far above the rounding of these sums
        best = total if best is None else min(best, total)
    return best
