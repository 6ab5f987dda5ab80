"""allocate: transparent, provably optimal, reproducible grant allocation.

Applications are candidate awards with costs, outcome scores and social-capital scores;
`solve` picks the awards of greatest weighted value within the budget and the round's
rules, verifies the answer independently, and reports how every rule stands.
"""

from allocate.analysis.compare import Comparison as Comparison
from allocate.analysis.compare import compare as compare
from allocate.analysis.diagnose import Diagnosis as Diagnosis
from allocate.analysis.diagnose import diagnose as diagnose
from allocate.analysis.explain import Explanations as Explanations
from allocate.analysis.explain import explain as explain
from allocate.analysis.frontier import Frontier as Frontier
from allocate.analysis.frontier import FrontierPoint as FrontierPoint
from allocate.analysis.frontier import frontier as frontier
from allocate.analysis.moderate import Moderation as Moderation
from allocate.analysis.moderate import PanelEffect as PanelEffect
from allocate.analysis.moderate import moderate as moderate
from allocate.analysis.price import RulePrice as RulePrice
from allocate.analysis.price import price_of_rules as price_of_rules
from allocate.analysis.robustness import Robustness as Robustness
from allocate.analysis.robustness import ScoreNoise as ScoreNoise
from allocate.analysis.robustness import robustness as robustness
from allocate.analysis.whatif import sweep as sweep
from allocate.domain.errors import AllocateError as AllocateError
from allocate.domain.errors import CertificationError as CertificationError
from allocate.domain.errors import InfeasibleError as InfeasibleError
from allocate.domain.errors import InvalidProblemError as InvalidProblemError
from allocate.domain.errors import SolverError as SolverError
from allocate.domain.errors import VerificationError as VerificationError
from allocate.domain.errors import WorkerError as WorkerError
from allocate.domain.model import Problem as Problem
from allocate.domain.parts import Application as Application
from allocate.domain.parts import Budget as Budget
from allocate.domain.parts import ClientGroup as ClientGroup
from allocate.domain.parts import Commitment as Commitment
from allocate.domain.parts import District as District
from allocate.domain.parts import Organisation as Organisation
from allocate.domain.parts import ScoreScale as ScoreScale
from allocate.domain.parts import Variant as Variant
from allocate.domain.parts import Weights as Weights
from allocate.domain.rules import Coverage as Coverage
from allocate.domain.rules import EqualityGap as EqualityGap
from allocate.domain.rules import Exclusive as Exclusive
from allocate.domain.rules import Lock as Lock
from allocate.domain.rules import MinOrganisations as MinOrganisations
from allocate.domain.rules import MinSpend as MinSpend
from allocate.domain.rules import NoNewGaps as NoNewGaps
from allocate.domain.rules import OrganisationCap as OrganisationCap
from allocate.domain.rules import PassMark as PassMark
from allocate.domain.rules import Pot as Pot
from allocate.domain.rules import Requires as Requires
from allocate.domain.rules import Rule as Rule
from allocate.domain.tally import cell_key as cell_key
from allocate.engine.backends import DEFAULT_BACKEND as DEFAULT_BACKEND
from allocate.engine.backends import NAMES as BACKENDS
from allocate.engine.carry_over import commitments_from as commitments_from
from allocate.engine.compile import CompiledProblem as CompiledProblem
from allocate.engine.compile import compile_problem as compile_problem
from allocate.engine.options import SolverOptions as SolverOptions
from allocate.engine.result import Allocation as Allocation
from allocate.engine.result import Award as Award
from allocate.engine.result import Certificate as Certificate
from allocate.engine.result import RuleReport as RuleReport
from allocate.engine.solve import solve as solve
from allocate.engine.verify import Verification as Verification
from allocate.engine.verify import verify as verify
from allocate.presentation.whatif_page import whatif_page as whatif_page

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
