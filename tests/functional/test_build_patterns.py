"""Glob edge cases (minimatch/globstar semantics, dot files included)."""

from __future__ import annotations

import pytest

from shipway.build.patterns import apply_ordered, expand_braces, match


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("**/*", "a.txt", True),
        ("**/*", "a/b/c.txt", True),
        ("**/*", ".hidden/x", True),
        ("**", "a/b", True),
        ("*.py", "a.py", True),
        ("*.py", "dir/a.py", False),  # `*` never crosses `/`
        ("**/*.py", "a.py", True),  # `**/` matches zero segments
        ("**/*.py", "x/y/a.py", True),
        ("src/**/*.js", "src/a.js", True),
        ("src/**/*.js", "src/x/y/a.js", True),
        ("src/**/*.js", "srcx/a.js", False),
        ("node_modules/**", "node_modules/a/b.js", True),
        ("node_modules/**", "node_modules", True),
        ("node_modules/**", "node_modules_x/a", False),
        ("node_modules/", "node_modules/a", True),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/xb", False),
        ("**.*", "file.txt", True),  # `**` inside a segment is `*`
        ("**.*", "dir/file.txt", False),
        ("?.md", "a.md", True),
        ("?.md", "ab.md", False),
        ("[ab].txt", "a.txt", True),
        ("[!ab].txt", "a.txt", False),
        ("[!ab].txt", "c.txt", True),
        ("*.{js,json}", "x.json", True),
        ("*.{js,json}", "x.ts", False),
        ("./handler.py", "handler.py", True),
        (".env*", ".env.dev", True),
        (".env*", "sub/.env", False),
        ("yarn-*.log", "yarn-error.log", True),
        (r"a\*b", "a*b", True),
        (r"a\*b", "axb", False),
        ("a+b(c).txt", "a+b(c).txt", True),
    ],
)
def test_match(pattern: str, path: str, expected: bool) -> None:
    assert match(pattern, path) is expected


def test_expand_braces_nested() -> None:
    assert expand_braces("a/{b,c{d,e}}/f") == ["a/b/f", "a/cd/f", "a/ce/f"]
    assert expand_braces("{x}") == ["{x}"]


def test_apply_ordered_later_pattern_wins() -> None:
    paths = ["a.py", "tests/t.py", "tests/data/keep.json", "docs/x.md"]
    assert apply_ordered(paths, ["!tests/**", "tests/data/**", "!**/*.md"]) == [
        "a.py",
        "tests/data/keep.json",
    ]
    assert apply_ordered(paths, ["!**", "a.py"]) == ["a.py"]
