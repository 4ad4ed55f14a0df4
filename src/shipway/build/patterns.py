"""Glob matching for `package.patterns` and buildspec `artifacts.files`.

Semantics follow minimatch/micromatch with `dot: true` (what the Serverless Framework and
CodeBuild use): `*` and `?` never cross `/`; a `**` segment matches zero or more whole
segments (`a/**` also matches `a`); `**` inside a segment acts like `*`; `[abc]`, `[!a]`,
`[^a]` classes; `{a,b}` alternatives (nested allowed); `\\` escapes; a leading `./` is
ignored. Paths are posix, relative, without a leading `./`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

GLOB_CHARS = frozenset("*?[{")


def has_magic(pattern: str) -> bool:
    return any(c in GLOB_CHARS for c in pattern)


def expand_braces(pattern: str) -> list[str]:
    """`a/{b,c{d,e}}` -> [`a/b`, `a/cd`, `a/ce`]. Unbalanced or single-item braces stay literal."""
    depth = 0
    start = -1
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                body = pattern[start + 1 : i]
                parts = _split_top(body)
                if len(parts) < 2:
                    # `{x}`: literal braces; keep scanning after it
                    rest = expand_braces(pattern[i + 1 :])
                    head = pattern[: i + 1]
                    return [head + r for r in rest]
                prefix, suffix = pattern[:start], pattern[i + 1 :]
                out: list[str] = []
                for part in parts:
                    for expanded in expand_braces(prefix + part + suffix):
                        if expanded not in out:
                            out.append(expanded)
                return out
        i += 1
    return [pattern]


def _split_top(body: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    cur = ""
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            cur += body[i : i + 2]
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    parts.append(cur)
    return parts


def _segment_regex(seg: str) -> str:
    out = ""
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "\\" and i + 1 < len(seg):
            out += re.escape(seg[i + 1])
            i += 2
            continue
        if c == "*":
            while i + 1 < len(seg) and seg[i + 1] == "*":
                i += 1
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = seg.find("]", i + 2 if i + 1 < len(seg) and seg[i + 1] in "!^" else i + 1)
            if end == -1:
                out += re.escape(c)
            else:
                body = seg[i + 1 : end]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\").replace("^", "\\^")
                out += f"[^/{body}]" if negate else f"[{body}]"
                i = end
        else:
            out += re.escape(c)
        i += 1
    return out


def _normalize(pattern: str) -> str:
    while pattern.startswith("./"):
        pattern = pattern[2:]
    if pattern.endswith("/") and pattern != "/":
        pattern += "**"  # `dir/` means everything below dir
    return pattern


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """One regex for `pattern` (braces expanded into alternatives)."""
    alternatives = [_glob_to_regex(_normalize(p)) for p in expand_braces(pattern)]
    return re.compile("(?:" + "|".join(alternatives) + r")\Z", re.DOTALL)


def _glob_to_regex(pattern: str) -> str:
    segs = pattern.split("/")
    out = ""
    n = len(segs)
    for idx, seg in enumerate(segs):
        last = idx == n - 1
        if seg == "**":
            if n == 1:
                out += ".*"
            elif idx == 0:
                out += "(?:[^/]+/)*"
            elif last and out.endswith("/"):
                # `a/**` matches `a` and everything below it
                out = out[:-1] + "(?:/.*)?"
            elif last:
                out += ".*"
            else:
                out += "(?:[^/]+/)*"
            continue
        out += _segment_regex(seg)
        if not last:
            out += "/"
    return out


def match(pattern: str, path: str) -> bool:
    return compile_glob(pattern).match(path) is not None


def filter_paths(patterns: Sequence[str], paths: Iterable[str]) -> list[str]:
    """Paths matched by any of the positive patterns (no negation)."""
    regexes = [compile_glob(p) for p in patterns]
    return [p for p in paths if any(r.match(p) for r in regexes)]


def apply_ordered(paths: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """Serverless Framework `package.patterns` semantics.

    Every path starts included; each pattern in order sets the state of the paths it matches:
    `!glob` excludes them, `glob` (re)includes them. Returns the included paths, in input order.
    """
    state = dict.fromkeys(paths, True)
    for raw in patterns:
        exclude = raw.startswith("!")
        regex = compile_glob(raw[1:] if exclude else raw)
        for p in paths:
            if regex.match(p):
                state[p] = not exclude
    return [p for p in paths if state[p]]
