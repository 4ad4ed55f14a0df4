"""Names in the user's files and the limits they must keep: environments, branches,
service paths, stacks and functions. Each check returns the problem as text (None when
the name is fine), so callers attach file, line and key."""

from __future__ import annotations

import re

from shipway.limits import (
    MAX_BRANCH_NAME,
    MAX_ENVIRONMENT_NAME,
    MAX_FUNCTION_NAME,
    MAX_PATH_PART_BYTES,
    MAX_SERVICE_PATH_BYTES,
    MAX_STACK_NAME,
    NAME_PATTERN,
    STACK_NAME_PATTERN,
    STAGE_PATTERN,
)

__all__ = [
    "branch_problem",
    "environment_problem",
    "function_name_problem",
    "service_path_problem",
    "shown",
    "stack_name_problem",
    "stage_problem",
]

_NAME = re.compile(NAME_PATTERN)
# the server's own first path segments: an environment of that name would be shadowed
RESERVED_ENVIRONMENTS = frozenset({"api", "docs", "hooks", "metrics", "healthz"})
# git check-ref-format: no control characters, space, `~ ^ : \`; `* ? [` are kept for
# branch patterns (`feature/*`)
_BAD_BRANCH_CHARS = re.compile(r"[\x00-\x20\x7f~^:\\]")


def shown(value: object, limit: int = 60) -> str:
    """A value as an error message quotes it: cut to `limit` characters."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def environment_problem(name: str) -> str | None:
    if len(name) > MAX_ENVIRONMENT_NAME:
        return (
            f"environment name `{shown(name)}` is {len(name)} characters long; "
            f"the limit is {MAX_ENVIRONMENT_NAME}"
        )
    if not _NAME.match(name):
        return f"environment name `{shown(name)}` must be lower-case letters, digits and dashes"
    if name in RESERVED_ENVIRONMENTS:
        names = ", ".join(f"`{n}`" for n in sorted(RESERVED_ENVIRONMENTS))
        return f"`{name}` is a path of the server's own; no environment is named {names}"
    return None


def stage_problem(stage: str) -> str | None:
    """The Framework's rule for a stage name (`^[a-zA-Z0-9-]+$`, either case), kept short
    enough that `<service>-<stage>` can still be a stack name."""
    longest = MAX_STACK_NAME - 2  # a one-letter service, `-`, the stage
    if len(stage) > longest:
        return (
            f"stage name `{shown(stage)}` is {len(stage)} characters long; the limit is {longest}"
        )
    if not STAGE_PATTERN.match(stage):
        return f"stage name `{shown(stage)}` must be letters, digits and dashes (`Prod`, `dev-2`)"
    return None


def branch_problem(branch: str) -> str | None:
    """Why `branch` is not a branch name (git check-ref-format --branch), `*?[` allowed."""
    why = None
    if not branch:
        why = "is empty"
    elif len(branch) > MAX_BRANCH_NAME:
        why = f"is longer than {MAX_BRANCH_NAME} characters"
    elif branch.startswith("-"):
        why = "starts with `-`"
    elif branch in ("@", "HEAD"):
        why = f"is `{branch}`, which git keeps for itself"
    elif match := _BAD_BRANCH_CHARS.search(branch):
        char = match.group()
        why = f"holds {f'`{char}`' if char.isprintable() and char != ' ' else repr(char)}"
    elif ".." in branch:
        why = "holds `..`"
    elif "@{" in branch:
        why = "holds `@{`"
    elif branch.startswith("/") or branch.endswith("/") or "//" in branch:
        why = "has an empty path part (`/` at an end, or `//`)"
    elif branch.endswith("."):
        why = "ends with `.`"
    elif any(part.startswith(".") or part.endswith(".lock") for part in branch.split("/")):
        why = "has a part that starts with `.` or ends with `.lock`"
    if why is None:
        return None
    return f"`{shown(branch)}` is not a branch name: it {why}"


def path_parts_problem(path: str, noun: str = "name") -> str | None:
    """Why a relative path cannot be one on a file system (a name part over
    MAX_PATH_PART_BYTES, a NUL byte), or None."""
    for part in path.replace("\\", "/").split("/"):
        if len(part.encode("utf-8", "surrogateescape")) > MAX_PATH_PART_BYTES:
            return (
                f"the {noun} `{shown(part)}` is longer than {MAX_PATH_PART_BYTES} bytes, "
                "more than a file system holds"
            )
    if "\0" in path:
        return "a path cannot hold a NUL byte"
    return None


def service_path_problem(path: str) -> str | None:
    size = len(path.encode("utf-8"))
    if size > MAX_SERVICE_PATH_BYTES:
        return f"the service path is {size} bytes long; the limit is {MAX_SERVICE_PATH_BYTES}"
    return path_parts_problem(path, "folder name")


def stack_name_problem(stack: str) -> str | None:
    if len(stack) > MAX_STACK_NAME:
        return (
            f"the stack name `{shown(stack)}` is {len(stack)} characters long; "
            f"CloudFormation allows {MAX_STACK_NAME}"
        )
    if not STACK_NAME_PATTERN.match(stack):
        return (
            f"the stack name `{shown(stack)}` must start with a letter and hold only "
            "letters, digits and `-`"
        )
    return None


def function_name_problem(name: str) -> str | None:
    if len(name) > MAX_FUNCTION_NAME:
        return (
            f"the function name `{shown(name)}` is {len(name)} characters long; "
            f"Lambda allows {MAX_FUNCTION_NAME}"
        )
    return None
