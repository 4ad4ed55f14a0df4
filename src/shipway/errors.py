"""The error types every layer raises.

`ShipwayError` is bad input or configuration: it says where (file, line, key), what was
expected, and maps to exit status 2 (HTTP 4xx). `WorkFailed` and its children are the user's
work saying no (a build, a deploy): exit status 1. Anything else is a bug in Shipway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Where:
    """A place in the user's files: `file:line` and the dotted key path."""

    file: str
    line: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
        if self.key:
            text += f": `{self.key}`"
        return text


class ShipwayError(Exception):
    """Bad input: exit status 2. `where` points into the user's files."""

    exit_code = 2
    #: the environment the problem is in, when it is not in all of them (`validate`)
    environment: str | None = None

    def __init__(self, message: str, where: Where | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        message = self.message
        if self.environment:
            message = f"in environment `{self.environment}`: {message}"
        text = f"{self.where}: {message}" if self.where else message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"message": self.message}
        if self.where:
            out.update(file=self.where.file, line=self.where.line, key=self.where.key)
        if self.environment:
            out["environment"] = self.environment
        if self.hint:
            out["hint"] = self.hint
        return out


class ConfigErrors(ShipwayError):
    """Several problems found at once (validation reports every one)."""

    def __init__(self, errors: Iterable[ShipwayError]):
        self.errors = list(errors)
        super().__init__(f"{len(self.errors)} problem(s) found")

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class NotFound(ShipwayError):
    """A named thing (run, environment, service, function) does not exist."""


class Forbidden(ShipwayError):
    """The caller may not do this (HTTP 403); the attempt is in the audit log."""


class Conflict(ShipwayError):
    """The thing named is not in a state that allows this (HTTP 409): a run that has
    ended, a run not waiting for approval, a deploy in progress."""


class WorkFailed(Exception):
    """The user's work said no (a build, a deploy): exit status 1."""

    exit_code = 1


class BuildFailed(WorkFailed):
    pass


class DeployFailed(WorkFailed):
    #: the service whose deploy failed, when one did (the others are not to blame)
    service: str | None = None
