"""allocate: transparent, provably optimal, reproducible grant allocation.

Applications are candidate awards with costs, outcome scores and social-capital scores;
`solve` picks the awards of greatest weighted value within the budget and the round's
rules, verifies the answer independently, and reports how every rule stands.
"""

from allocate.analysis.compare import Comparison, compare
from allocate.analysis.diagnose import Diagnosis, diagnose
from allocate.analysis.explain import Explanations, explain
from allocate.analysis.frontier import Frontier, FrontierPoint, frontier
from allocate.analysis.moderate import Moderation, PanelEffect, moderate
from allocate.analysis.price import RulePrice, price_of_rules
from allocate.analysis.robustness import Robustness, ScoreNoise, robustness
from allocate.analysis.whatif import sweep
from allocate.domain.errors import (
    AllocateError,
    CertificationError,
    InfeasibleError,
    InvalidProblemError,
    SolverError,
    VerificationError,
    WorkerError,
)
from allocate.domain.model import Problem
from allocate.domain.parts import (
    Application,
    Budget,
    ClientGroup,
    Commitment,
    District,
    Organisation,
    ScoreScale,
    Variant,
    Weights,
)
from allocate.domain.rules import (
    Coverage,
    EqualityGap,
    Exclusive,
    Lock,
    MinOrganisations,
    MinSpend,
    NoNewGaps,
    OrganisationCap,
    PassMark,
    Pot,
    Requires,
    Rule,
)
from allocate.domain.tally import cell_key
from allocate.engine.backends import DEFAULT_BACKEND
from allocate.engine.backends import NAMES as BACKENDS
from allocate.engine.carry_over import commitments_from
from allocate.engine.compile import CompiledProblem, compile_problem
from allocate.engine.options import SolverOptions
from allocate.engine.result import Allocation, Award, Certificate, RuleReport
from allocate.engine.solve import solve
from allocate.engine.verify import Verification, verify
from allocate.presentation.whatif_page import whatif_page

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "AllocateError",
    "Allocation",
    "Application",
    "Award",
    "Budget",
    "Certificate",
    "CertificationError",
    "ClientGroup",
    "Commitment",
    "Comparison",
    "CompiledProblem",
    "Coverage",
    "Diagnosis",
    "District",
    "EqualityGap",
    "Exclusive",
    "Explanations",
    "Frontier",
    "FrontierPoint",
    "InfeasibleError",
    "InvalidProblemError",
    "Lock",
    "MinOrganisations",
    "MinSpend",
    "Moderation",
    "NoNewGaps",
    "Organisation",
    "OrganisationCap",
    "PanelEffect",
    "PassMark",
    "Pot",
    "Problem",
    "Requires",
    "Robustness",
    "Rule",
    "RulePrice",
    "RuleReport",
    "ScoreNoise",
    "ScoreScale",
    "SolverError",
    "SolverOptions",
    "Variant",
    "Verification",
    "VerificationError",
    "Weights",
    "WorkerError",
    "cell_key",
    "commitments_from",
    "compare",
    "compile_problem",
    "diagnose",
    "explain",
    "frontier",
    "moderate",
    "price_of_rules",
    "robustness",
    "solve",
    "sweep",
    "verify",
    "whatif_page",
]
