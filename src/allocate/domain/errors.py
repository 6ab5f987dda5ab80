"""The library's exception hierarchy: every error a user can see derives from AllocateError."""

from __future__ import annotations


class AllocateError(Exception):
    """Base class of every error raised by allocate."""


Loc = tuple[str | int, ...]
"""Where an error is, as pydantic's ``loc``: a root, then field names (str) and positions (int).

The root is a model (``"Problem"``, ``"Coverage"``), an argument (``"certify"``) or a place in
a file (``"applications.csv row 7, column cost_pounds"``, ``"case.pb:9"``). Within a problem,
``("Problem", "applications", 3, "cost")`` is the cost of the fourth application.
"""


def render(loc: Loc) -> str:
    """The one written form of a location: ``Problem.applications[3].cost``.

    The root as given, then ``.name`` for a name and ``[i]`` for a position; after a root that
    is a place in a file rather than a name (``case.pb:9``), the path follows a space
    (``case.pb:9 PROJECTS.cost``).
    """
    if not loc:
        return "(root)"
    root, *path = loc
    out = f"[{root}]" if isinstance(root, int) else root
    for i, part in enumerate(path):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i == 0 and not root_is_name(root):
            out += f" {part}"
        else:
            out += f".{part}"
    return out


def root_is_name(root: str | int) -> bool:
    """A model or argument name (followed by ``.field``), not a place in a file."""
    return isinstance(root, str) and root.isidentifier()


class InvalidProblemError(AllocateError):
    """The problem as stated is malformed: `loc` says where (see `Loc`), `reason` what is wrong.

    The message is ``f"{field}: {reason}"``, with `field` the location written out (`render`).
    """

    def __init__(self, loc: Loc, reason: str) -> None:
        self.loc = tuple(loc)
        self.reason = reason
        super().__init__(f"{self.field}: {reason}")

    @property
    def field(self) -> str:
        """The location written out, e.g. ``Problem.rules[0].key``."""
        return render(self.loc)

    def __reduce__(self) -> tuple[type[InvalidProblemError], tuple[Loc, str]]:
        """Pickle by (loc, reason), e.g. across processes."""
        return type(self), (self.loc, self.reason)


class InfeasibleError(AllocateError):
    """No allocation satisfies the rules; `conflict` names the rules that clash."""

    def __init__(self, message: str, conflict: tuple[str, ...] = ()) -> None:
        self.conflict = conflict
        super().__init__(message)


class SolverError(AllocateError):
    """A solver failed, or is unknown, or returned something we cannot use."""


class WorkerError(AllocateError):
    """A worker of an executor died (killed, out of memory) while running an analysis's task.

    `task` names the task; no partial result is returned in its place.
    """

    def __init__(self, message: str, task: str = "") -> None:
        self.task = task
        super().__init__(message)


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
