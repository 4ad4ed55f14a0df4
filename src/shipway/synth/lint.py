"""cfn-lint as a library: rules are built once per process, each template is checked in memory.

`lint(template)` returns one line per finding (`E3012 Resources/X/Properties/Y: message`);
errors and warnings both, informational findings never. `errors_only` drops the warnings.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["IGNORED_RULES", "lint"]

#: rules switched off, and why:
#: - W3005 `DependsOn` already implied by a `Ref`/`GetAtt`: the Framework writes these on
#:   purpose (a method depends on its permission, a function on its log group); removing
#:   them would change the template the Framework makes.
IGNORED_RULES = ("W3005",)

_lock = threading.Lock()
_rules: Any = None


def _get_rules() -> Any:
    global _rules
    with _lock:
        if _rules is None:
            from cfnlint.core import get_rules  # type: ignore[import-untyped]

            _rules = get_rules([], list(IGNORED_RULES), [])
        return _rules


def lint(
    template: dict[str, Any],
    *,
    regions: Iterable[str] = ("us-east-1",),
    errors_only: bool = False,
    ignore: Iterable[str] = (),
    filename: str = "template.json",
) -> list[str]:
    """cfn-lint's findings for `template` (a dict), as `RULE path: message` lines.

    `ignore` drops more rule IDs for this call (e.g. `E2533`, a deprecated runtime, which
    depends on today's date and the user's choice rather than on the synthesis).
    """
    skip = set(ignore)
    from cfnlint.core import run_checks

    matches = run_checks(filename, copy.deepcopy(template), _get_rules(), list(regions))
    out = []
    for match in matches:
        rule_id = match.rule.id
        if rule_id in skip or rule_id.startswith("I"):
            continue
        if errors_only and not rule_id.startswith("E"):
            continue
        path = "/".join(str(p) for p in (match.path or []))
        out.append(f"{rule_id} {path}: {match.message}")
    return out
