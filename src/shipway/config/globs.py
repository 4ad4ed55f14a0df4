"""Glob patterns for branches and file paths, as CodePipeline V2 triggers read them.

CodePipeline's trigger filters (`branches` and `filePaths`, `includes` / `excludes`) use the
glob language of its "Working with glob patterns in syntax" page (Java's path matcher):

- `*`  zero or more characters of one path segment (never a `/`): `feature/*` matches
  `feature/login`, not `feature/login/v2`;
- `**` zero or more characters across segments: `feature/**` matches `feature/a/b`;
- `?`  one character (not `/`);
- `[abc]`, `[a-z]`, `[!a-c]` one character of (or not of) a set; inside the brackets `*`, `?`
  and `\\` are themselves, and `-` first (or first after `!`) is itself;
- `{a,b}` either sub-pattern (groups do not nest);
- `\\` makes the next character itself.

One reading is ours: `**/` at the start of a pattern or after a `/` also matches no folder
at all, so `**/*.md` matches `README.md` at the top as well as `docs/a.md` (git's
`**/` rule; CodePipeline's examples exclude `**/README.md` meaning every README). A pattern
is matched against the whole name, case-sensitively.
"""

from __future__ import annotations

import functools
import re

__all__ = ["GlobError", "glob_match", "glob_problem", "is_glob"]

_SPECIAL = frozenset("*?[{\\")


class GlobError(ValueError):
    """A pattern that is not a glob: an unclosed `[` or `{`, a nested `{`."""


def is_glob(pattern: str) -> bool:
    """Whether `pattern` holds any glob syntax (else it names one branch or file)."""
    return any(ch in _SPECIAL for ch in pattern)


def glob_match(pattern: str, name: str) -> bool:
    """Whether `name` (a branch, or a `/`-separated repository path) matches `pattern`."""
    return _compiled(pattern).fullmatch(name) is not None


def glob_problem(pattern: str) -> str | None:
    """Why `pattern` is not a glob (None when it is one)."""
    try:
        _compiled(pattern)
    except GlobError as exc:
        return f"`{pattern[:60]}` is not a glob pattern: {exc}"
    return None


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(_translate(pattern), re.DOTALL)


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    in_group = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 < n:
                out.append(re.escape(pattern[i + 1]))
                i += 2
            else:
                out.append(re.escape("\\"))
                i += 1
        elif ch == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            if j - i == 1:
                out.append("[^/]*")
            elif j < n and pattern[j] == "/" and (i == 0 or pattern[i - 1] == "/"):
                out.append("(?:.*/)?")  # `**/`: any folders, or none
                j += 1
            else:
                out.append(".*")
            i = j
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            text, i = _bracket(pattern, i)
            out.append(text)
        elif ch == "{":
            if in_group:
                raise GlobError("`{` groups do not nest")
            in_group = True
            out.append("(?:")
            i += 1
        elif ch == "}" and in_group:
            in_group = False
            out.append(")")
            i += 1
        elif ch == "," and in_group:
            out.append("|")
            i += 1
        else:
            out.append(re.escape(ch))
            i += 1
    if in_group:
        raise GlobError("a `{` is not closed by `}`")
    return "".join(out)


def _bracket(pattern: str, start: int) -> tuple[str, int]:
    """`[...]` from `pattern[start]` -> (a regex class that never matches `/`, the index
    after `]`)."""
    i = start + 1
    n = len(pattern)
    negate = i < n and pattern[i] == "!"
    if negate:
        i += 1
    items: list[str] = []
    first = True
    while i < n and (pattern[i] != "]" or first):
        ch = pattern[i]
        if ch == "-" and not first and i + 1 < n and pattern[i + 1] != "]" and len(items[-1]) == 1:
            low = items.pop()
            high = pattern[i + 1]
            if ord(high) < ord(low):
                raise GlobError(f"the range `{low}-{high}` is backwards")
            items.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 2
        else:
            items.append(ch)
            i += 1
        first = False
    if i >= n:
        raise GlobError("a `[` is not closed by `]`")
    body = "".join(item if len(item) > 1 else re.escape(item) for item in items)
    return f"(?!/)[{'^' if negate else ''}{body}]", i + 1
