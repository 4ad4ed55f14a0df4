"""`${cf:<service>-<stage>.Output}` of a service of the repository, on a local environment.

The stack is on the local AWS emulator, whose state lives as long as `shipway serve`: a
stack put back when the server starts again gets new physical names (a table without a
`TableName` is `users-dev-UsersTable-<random>`). So the value is not fixed when the file is
read: it stays a reference, `{{shipway:cf:<region>:<stack>.<Output>}}` (inside any
string: `arn:…:${cf:…}` works), and the local runtime puts in what the emulator's stack
outputs when it starts the function. A reference the emulator cannot answer (no server,
no such stack or output yet) stays as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

__all__ = ["output_reference", "references", "substitute"]

_REFERENCE = re.compile(r"\{\{shipway:cf:([a-z0-9-]+):([A-Za-z0-9-]+)\.([A-Za-z0-9]+)\}\}")


def output_reference(region: str, stack: str, output: str) -> str:
    return f"{{{{shipway:cf:{region}:{stack}.{output}}}}}"


def references(value: str) -> list[tuple[str, str, str]]:
    """(region, stack, output) of every reference in `value`."""
    return [(m.group(1), m.group(2), m.group(3)) for m in _REFERENCE.finditer(value)]


def substitute(
    value: str, outputs: Callable[[str, str], Mapping[str, str] | None]
) -> tuple[str, list[str]]:
    """`value` with each reference replaced by `outputs(region, stack)[output]`, and the
    references that had no value (left as written)."""
    missing: list[str] = []

    def one(match: re.Match[str]) -> str:
        found = outputs(match.group(1), match.group(2)) or {}
        if match.group(3) in found:
            return str(found[match.group(3)])
        missing.append(f"{match.group(2)}.{match.group(3)}")
        return match.group(0)

    return _REFERENCE.sub(one, value), missing
