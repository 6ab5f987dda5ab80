"""What a solve is asked for and what it can answer: options and statuses, shared by every layer.

Neutral ground: the result, the solve and the backends all read these, and none of them owns them.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from pydantic import Field, StrictBool

from allocate.domain.schema import Frozen

Status = Literal["optimal", "feasible", "infeasible", "no_solution"]
"""optimal: proven within the requested gap; feasible: stopped (time limit) with an
allocation and a gap; infeasible: the rules cannot all hold; no_solution: stopped before
any allocation was found."""


class SolverOptions(Frozen):
    """Options every backend honours.

    ``threads=1`` and a fixed ``seed`` make every backend deterministic: the same input and
    options give the same awards, ties included. More threads may be faster, but CP-SAT can
    then return a different allocation of equal value.
    """

    time_limit: Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)] | None = None
    relative_gap: Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)] = 0.0
    threads: Annotated[int, Field(strict=True, ge=1)] = 1
    seed: Annotated[int, Field(strict=True, ge=0)] = 0
    verbose: StrictBool = False

    def left_since(self, started: float) -> SolverOptions | None:
        """These options with ``time_limit`` cut to what is left of it since `started`
        (a ``time.perf_counter()`` reading); None when nothing is left.

        A time limit bounds a whole call (compiling, loading the solver, solving), not only
        the solver's own search: at 100k+ applications the first two take seconds.
        """
        if self.time_limit is None:
            return self
        left = self.time_limit - (time.perf_counter() - started)
        return self.model_copy(update={"time_limit": left}) if left > 0 else None
