"""allocate: transparent, provably optimal, reproducible grant allocation.

Applications are candidate awards with costs, outcome scores and social-capital scores;
`solve` picks the awards of greatest weighted value within the budget and the round's
rules, verifies the answer independently, and reports how every rule stands.
"""

from allocate.backends import DEFAULT_BACKEND
from allocate.backends import NAMES as BACKENDS
from allocate.backends.base import SolverOptions
from allocate.compile import CompiledProblem, compile_problem
from allocate.errors import (
    AllocateError,
    InfeasibleError,
    InvalidProblemError,
    SolverError,
    VerificationError,
)
from allocate.model import Application, Budget, ClientGroup, District, Problem, ScoreScale, Variant, Weights
from allocate.result import Allocation, Award, RuleReport
from allocate.rules import (
    Coverage,
    EqualityGap,
    Exclusive,
    Lock,
    MinOrganisations,
    NoNewGaps,
    OrganisationCap,
    PassMark,
    Pot,
    Requires,
    Rule,
)
from allocate.solve import solve
from allocate.tally import cell_key
from allocate.verify import Verification, verify

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "AllocateError",
    "Allocation",
    "Application",
    "Award",
    "Budget",
    "ClientGroup",
    "CompiledProblem",
    "Coverage",
    "District",
    "EqualityGap",
    "Exclusive",
    "InfeasibleError",
    "InvalidProblemError",
    "Lock",
    "MinOrganisations",
    "NoNewGaps",
    "OrganisationCap",
    "PassMark",
    "Pot",
    "Problem",
    "Requires",
    "Rule",
    "RuleReport",
    "ScoreScale",
    "SolverError",
    "SolverOptions",
    "Variant",
    "Verification",
    "VerificationError",
    "Weights",
    "cell_key",
    "compile_problem",
    "solve",
    "verify",
]
