"""Which environments a push starts: CodePipeline V2's branch globs and paths filters."""

from __future__ import annotations

import pytest

from shipway.config.globs import glob_match, glob_problem
from shipway.model import Environment, LocalTarget
from shipway.source.triggers import (
    ZERO_SHA,
    RefUpdate,
    branch_matches,
    environments_for_push,
    moved_branches,
    paths_match,
)

A = "a" * 40
B = "b" * 40


@pytest.mark.parametrize(
    ("pattern", "branch", "expected"),
    [
        ("main", "main", True),
        ("main", "mainline", False),
        ("feature/*", "feature/login", True),
        ("feature/*", "feature/login/v2", False),  # `*` stays in one segment
        ("feature/*", "feature/", True),
        ("feature/**", "feature/login/v2", True),  # `**` crosses segments
        ("feature/**", "feature", False),
        ("release-?", "release-1", True),
        ("release-?", "release-10", False),
        ("release-?", "release-/", False),
        ("release-[0-9]*", "release-2024", True),
        ("release-[0-9]*", "release-x", False),
        ("hotfix-[!a-c]", "hotfix-d", True),
        ("hotfix-[!a-c]", "hotfix-b", False),
        ("{qa,staging}", "qa", True),
        ("{qa,staging}", "staging", True),
        ("{qa,staging}", "dev", False),
        ("team-{a,b}/*", "team-b/x", True),
        ("*", "dev", True),
        ("*", "feature/x", False),
        ("**", "feature/x", True),
        ("v1.0", "v1x0", False),  # `.` is itself, not any character
        ("Main", "main", False),  # case matters, as in git
    ],
)
def test_branch_globs_follow_codepipeline(pattern: str, branch: str, expected: bool) -> None:
    assert branch_matches(pattern, branch) is expected


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("services/**", "services/accounts/handler.py", True),
        ("services/**", "libs/x.py", False),
        ("services/*", "services/accounts/handler.py", False),
        ("**/*.md", "README.md", True),  # `**/` matches no folder too
        ("**/*.md", "docs/guide/intro.md", True),
        ("**/*.md", "docs/intro.mdx", False),
        ("common/**/*.js", "common/a.js", True),
        ("common/**/*.js", "common/a/b/c.js", True),
        ("*.{js,ts}", "index.ts", True),
        ("*.{js,ts}", "src/index.ts", False),
        ("foo.?", "foo.c", True),
        ("a\\*b", "a*b", True),  # `\` escapes
        ("a\\*b", "axb", False),
        ("[*]x", "*x", True),  # inside brackets `*` is itself
        ("[-a]x", "-x", True),
        ("x[/]y", "x/y", False),  # a set never matches `/`
    ],
)
def test_path_globs(pattern: str, path: str, expected: bool) -> None:
    assert glob_match(pattern, path) is expected


def test_a_broken_pattern_is_named() -> None:
    assert glob_problem("feature/[abc") == (
        "`feature/[abc` is not a glob pattern: a `[` is not closed by `]`"
    )
    assert glob_problem("{a,{b,c}}") is not None
    assert glob_problem("{a,b") is not None
    assert glob_problem("feature/{a,b}/**") is None


def test_paths_exclude_wins_over_include() -> None:
    include, exclude = ["services/**"], ["**/*.md"]
    assert paths_match(include, exclude, ["services/a/handler.py"])
    assert not paths_match(include, exclude, ["services/a/README.md"])
    assert not paths_match(include, exclude, ["libs/x.py"])
    # one file that counts is enough
    assert paths_match(include, exclude, ["services/a/README.md", "services/a/x.py"])


def test_paths_only_excludes_needs_one_file_left() -> None:
    assert not paths_match([], ["**/*.md", "docs/**"], ["README.md", "docs/a.txt"])
    assert paths_match([], ["**/*.md"], ["README.md", "Makefile"])


def test_no_changed_files_start_nothing_when_filtered() -> None:
    assert not paths_match(["services/**"], [], [])
    assert not paths_match([], ["**/*.md"], [])
    assert paths_match([], [], [])


def env(name: str, branch: str, **kw: object) -> Environment:
    return Environment(name=name, branch=branch, target=LocalTarget(), **kw)  # type: ignore[arg-type]


ENVS = {
    "dev": env("dev", "dev"),
    "preview": env("preview", "feature/*"),
    "svc": env("svc", "feature/*", paths_include=("services/**",), paths_exclude=("**/*.md",)),
    "mirror": env("mirror", "dev", source={"git": "https://git.example.com/x.git", "poll": 30}),
    "bucket": env("bucket", "dev", source={"s3": "s3://my-bucket/app.zip"}),
}


def never() -> list[str]:
    raise AssertionError("the changed files were not needed")


def test_a_push_to_a_branch_starts_its_environments() -> None:
    assert environments_for_push(ENVS, "refs/heads/dev", A, B, never) == ["dev"]
    assert environments_for_push(ENVS, "refs/heads/qa", A, B, never) == []
    assert environments_for_push(ENVS, "refs/heads/dev", ZERO_SHA, B, never) == ["dev"]


def test_every_matching_environment_starts_and_paths_are_read_once() -> None:
    calls: list[int] = []

    def changed() -> list[str]:
        calls.append(1)
        return ["services/a/handler.py"]

    assert environments_for_push(ENVS, "refs/heads/feature/x", A, B, changed) == [
        "preview",
        "svc",
    ]
    assert calls == [1]
    assert environments_for_push(ENVS, "refs/heads/feature/x", A, B, lambda: ["README.md"]) == [
        "preview"
    ]


def test_tags_deletions_and_other_refs_start_nothing() -> None:
    assert environments_for_push(ENVS, "refs/tags/dev", A, B, never) == []
    assert environments_for_push(ENVS, "refs/heads/dev", A, ZERO_SHA, never) == []
    assert environments_for_push(ENVS, "refs/notes/commits", A, B, never) == []
    assert environments_for_push(ENVS, "dev", A, B, never) == []
    assert environments_for_push(ENVS, "refs/heads/", A, B, never) == []


def test_remote_environments_start_from_their_remote_only() -> None:
    # an S3-fed environment starts from new object versions alone, never from a git push
    assert environments_for_push(ENVS, "refs/heads/dev", A, B, never, remote=True) == ["mirror"]
    assert "bucket" not in environments_for_push(ENVS, "refs/heads/dev", A, B, never)


def test_moved_branches_are_the_updates_between_two_looks() -> None:
    seen = {"dev": A, "qa": A, "gone": A}
    now = {"dev": B, "qa": A, "new": B}
    assert moved_branches(seen, now) == [
        RefUpdate("refs/heads/dev", A, B),
        RefUpdate("refs/heads/new", ZERO_SHA, B),
    ]
    assert moved_branches(now, now) == []


def test_ref_update_names_its_branch() -> None:
    assert RefUpdate("refs/heads/feature/x", A, B).branch == "feature/x"
    assert RefUpdate("refs/tags/v1", A, B).branch is None
