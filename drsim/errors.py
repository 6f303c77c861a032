"""The one error tree of drsim. Every error knows the process exit code it maps to.

    DrsimError                    exit 3 unless a subclass says otherwise
    +-- InputError                exit 2: the user's input is wrong
    |   +-- UsageError            bad command-line usage (missing file, bad option value)
    |   +-- DocumentError         one or more problems in documents, each with file:line:col
    |   +-- JournalError          a journal cannot be resumed or trusted (broken chain, bad line)
    |   +-- StoreError            the history store is damaged, foreign or locked
    +-- ExecutionError            exit 3: the drill could not be carried out
        +-- ProviderError         a cloud operation failed (simulated or real)
        |   +-- NotFoundError     the resource does not exist (or is unreachable)
        |   +-- ConflictError     the operation is not allowed in the resource's state
        |   +-- QuotaError        a documented limit was reached (restores per day, deployments)
        |   +-- CapacityError     the target region had no capacity (best effort)
        |   +-- TransientError    a retryable failure (timeouts, 5xx)
        |       +-- ThrottledError  ARM throttling; carries retry_after seconds
        +-- SafetyError           the engine refused an action that could touch production
        +-- AbortedError          the run was interrupted (Ctrl-C, SIGTERM)
        +-- VirtualDeadlockError  in virtual time every task waits and no timer is pending
        +-- CleanupError          cleanup left resources behind

Exit code 1 (an objective or check failed) is not an error: it is a drill result.
Errors from libraries underneath (PyYAML, pydantic, the Azure SDK) are translated at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass


class DrsimError(Exception):
    """Base of every error drsim raises on purpose."""

    exit_code = 3

    def format_message(self) -> str:
        return str(self)


class InputError(DrsimError):
    """The input (command line or documents) is invalid."""

    exit_code = 2


class UsageError(InputError):
    """A command-line argument or option is wrong."""


class StoreError(UsageError):
    """The history store cannot be used: damaged, not a drsim store, or locked by another process."""


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in one document, located at a line and column (1-based)."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "col": self.col, "message": self.message}


class DocumentError(InputError):
    """One or more documents are invalid; carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class JournalError(UsageError):
    """A journal cannot be resumed: broken hash chain, bad line, or a run that does not replay the same."""


class ExecutionError(DrsimError):
    """The drill could not be carried out as asked."""

    exit_code = 3


class ProviderError(ExecutionError):
    """A cloud operation failed."""

    retryable = False


class NotFoundError(ProviderError):
    """The resource does not exist, or is unreachable (its region is down)."""


class ConflictError(ProviderError):
    """The operation is not allowed in the resource's current state."""


class QuotaError(ProviderError):
    """A documented service limit was reached."""


class CapacityError(ProviderError):
    """The target region had no capacity for the request (best effort, retryable later)."""

    retryable = True


class TransientError(ProviderError):
    """A failure that a retry may cure."""

    retryable = True


class ThrottledError(TransientError):
    """ARM throttled the request; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SafetyError(ExecutionError):
    """The engine refused an action that could touch production."""


class AbortedError(ExecutionError):
    """The run was interrupted before it finished."""


class CleanupError(ExecutionError):
    """Cleanup left resources behind."""


class VirtualDeadlockError(ExecutionError):
    """Every task waits and no timer is pending: virtual time cannot move, so the run can never end."""
