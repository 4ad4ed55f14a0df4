"""The ways a build stops early: out of time, cancelled, or a problem that is not a
command's exit."""

from __future__ import annotations


class BuildTimedOut(Exception):
    """The per-service timeout passed; every process group the build started is killed."""


class BuildFailed(Exception):
    """The build cannot go on (setup or artifact problem); the message is the error."""


class BuildCancelled(Exception):
    """The run was interrupted (Ctrl-C, a cancel): every process group is killed."""
