"""The library's exception hierarchy: every error a user can see derives from AllocateError."""

from __future__ import annotations


class AllocateError(Exception):
    """Base class of every error raised by allocate."""


class InvalidProblemError(AllocateError):
    """The problem as stated is malformed; the message names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class InfeasibleError(AllocateError):
    """No allocation satisfies the rules; `conflict` names the rules that clash."""

    def __init__(self, message: str, conflict: tuple[str, ...] = ()) -> None:
        self.conflict = conflict
        super().__init__(message)


class SolverError(AllocateError):
    """A solver failed, or is unknown, or returned something we cannot use."""


class VerificationError(AllocateError):
    """A solver's allocation broke the problem's rules when checked independently."""

    def __init__(self, message: str, violations: tuple[str, ...] = ()) -> None:
        self.violations = violations
        super().__init__(message)


class CertificationError(AllocateError):
    """A second solver contradicted the first one's claim ("optimal" or "infeasible").

    `claim` and `check` describe both answers; neither is chosen silently.
    """

    def __init__(self, message: str, claim: str, check: str) -> None:
        self.claim = claim
        self.check = check
        super().__init__(message)
