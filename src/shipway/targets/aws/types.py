"""Plain answers of the CloudFormation calls `AwsClient` makes (no boto3 here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shipway.model import ResourceChange

__all__ = [
    "FAILED_STATES",
    "NO_CHANGE_REASONS",
    "ChangeSetInfo",
    "StackInfo",
]

#: stack states after which the last operation failed (CloudFormation rolled it back or
#: could not)
FAILED_STATES = frozenset(
    {
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "UPDATE_FAILED",
        "DELETE_FAILED",
        "IMPORT_ROLLBACK_COMPLETE",
        "IMPORT_ROLLBACK_FAILED",
    }
)

#: a change set FAILED with one of these reasons holds no change (is-change-set-without-changes.js)
NO_CHANGE_REASONS = (
    "No updates are to be performed.",
    "The submitted information didn't contain changes.",
)


@dataclass(frozen=True)
class StackInfo:
    name: str
    stack_id: str
    status: str
    reason: str = ""
    outputs: Mapping[str, str] = field(default_factory=dict)

    @property
    def in_progress(self) -> bool:
        return self.status.endswith("_IN_PROGRESS")


@dataclass(frozen=True)
class ChangeSetInfo:
    name: str
    stack: str
    status: str  # CREATE_PENDING | CREATE_IN_PROGRESS | CREATE_COMPLETE | FAILED …
    reason: str = ""
    execution_status: str = ""
    changes: tuple[ResourceChange, ...] = ()

    @property
    def pending(self) -> bool:
        return self.status in ("CREATE_PENDING", "CREATE_IN_PROGRESS")

    @property
    def empty(self) -> bool:
        """Holds no change: not an error, the stack is already as asked."""
        if self.status == "FAILED":
            return any(reason in self.reason for reason in NO_CHANGE_REASONS)
        return self.status == "CREATE_COMPLETE" and not self.changes
