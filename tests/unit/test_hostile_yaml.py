"""Hostile YAML: every bad document is a ShipwayError naming file and line, never a
RecursionError, a segfault, a runaway expansion or a Python object."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipway.config.yamlsrc import load_yaml, parse_yaml
from shipway.errors import ShipwayError

NAME = "services/a/serverless.yml"


def _error(text: str) -> ShipwayError:
    with pytest.raises(ShipwayError) as info:
        parse_yaml(text, NAME)
    assert info.value.where is not None and info.value.where.file == NAME
    assert info.value.where.line is not None
    return info.value


@pytest.mark.parametrize("levels", [500, 100_000, 1_000_000])
def test_deep_flow_nesting_is_an_error_with_a_line(levels: int) -> None:
    error = _error("service: a\ncustom:\n  x: " + "[" * levels + "]" * levels + "\n")
    assert "nested deeper than 100 levels" in error.message
    assert error.where is not None and error.where.line == 3


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\u2028", "\x85"])
def test_deep_block_nesting_is_an_error(newline: str) -> None:
    # found by the fuzzer: with `\r` line ends the text looked like one shallow line
    text = "".join(" " * (2 * i) + f"k{i}:{newline}" for i in range(150)) + " " * 300 + "x: 1"
    assert "nested deeper" in _error(text + newline).message


def test_deep_compact_sequences_are_an_error() -> None:
    assert "nested deeper" in _error("x:\n" + "- " * 400 + "leaf\n").message


def test_nesting_within_the_limit_loads() -> None:
    doc = parse_yaml("x: " + "[" * 90 + "1" + "]" * 90 + "\n", NAME)
    node = doc["x"]
    for _ in range(89):
        node = node[0]
    assert node == [1]


def test_alias_bomb_is_an_error_naming_the_line() -> None:
    lines = ["service: a", "custom:", '  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join([f"*l{i - 1}"] * 9)
        lines.append(f"  l{i}: &l{i} [{refs}]")
    error = _error("\n".join(lines) + "\n")
    assert "aliases expanded" in error.message
    assert error.where is not None and error.where.line is not None and error.where.line >= 3


def test_alias_bomb_in_a_buildspec_batch(tmp_path: Path) -> None:
    lines = ["version: 0.2", "batch:", "  build-list:", "    - &a0 {identifier: x}"]
    for i in range(1, 30):
        lines.append(f"    - &a{i} [*a{i - 1}, *a{i - 1}]")
    (tmp_path / "buildspec.yml").write_text("\n".join(lines) + "\n")
    with pytest.raises(ShipwayError) as info:
        load_yaml(tmp_path / "buildspec.yml", "buildspec.yml")
    assert "aliases expanded" in info.value.message


def test_aliases_nested_past_the_depth_limit_are_an_error() -> None:
    lines = ["a0: &a0 " + "[" * 60 + "]" * 60]
    lines += [f"a{i}: &a{i} " + "[" * 30 + f"*a{i - 1}" + "]" * 30 for i in range(1, 4)]
    assert "nested deeper" in _error("\n".join(lines) + "\n").message


def test_recursive_alias_is_an_error() -> None:
    assert "contains it" in _error("a: &a [1, *a]\n").message


def test_anchors_aliases_and_merge_keys_keep_working() -> None:
    text = (
        "base: &base {memorySize: 256, timeout: 6}\n"
        "cron: cron(0 * * * ? *)\n"
        "patterns: ['!**/*.md', 'src/**']\n"
        "functions:\n"
        "  a:\n    <<: *base\n    timeout: 10\n"
        "  b: *base\n"
        "list: &l [1, 2]\n"
        "again: *l\n"
    )
    doc = parse_yaml(text, NAME)
    assert doc["functions"]["a"] == {"memorySize": 256, "timeout": 10}
    assert doc["functions"]["b"] == {"memorySize": 256, "timeout": 6}
    assert doc["again"] == [1, 2]
    assert doc["cron"] == "cron(0 * * * ? *)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: !!float nope", "`!!float`"),
        ("a: !!int x", "`!!int`"),
        ("a: !!timestamp nope", "`!!timestamp`"),
        ("a: !!bool maybe", "`!!bool`"),
        ("a: !!binary aGVsbG8=", "`!!binary`"),
        ("a: !!set {x, y}", "`!!set`"),
        ("a: !!python/object/apply:os.system [echo hi]", "python/object"),
        ("a: !!python/name:os.system", "python/name"),
        ("a: " + "9" * 5000, "`!!int`"),
    ],
    ids=[
        "float",
        "int",
        "timestamp",
        "bool",
        "binary",
        "set",
        "python-apply",
        "python-name",
        "5000-digits",
    ],
)
def test_explicit_tags_with_bad_values_are_errors(text: str, expected: str) -> None:
    error = _error("ok: 1\n" + text + "\n")
    assert expected in error.message
    assert error.where is not None and error.where.line == 2


def test_dates_stay_text() -> None:
    doc = parse_yaml(
        "AWSTemplateFormatVersion: 2010-09-09\nat: 2001-12-14t21:59:43.10-05:00\n", NAME
    )
    assert doc == {"AWSTemplateFormatVersion": "2010-09-09", "at": "2001-12-14t21:59:43.10-05:00"}


# --------------------------------------------------------------------------- the file read


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "serverless.yml"
    path.write_text("service: a\ncustom:\n  x: '" + "y" * (5 * 1024 * 1024) + "'\n")
    with pytest.raises(ShipwayError) as info:
        load_yaml(path, "serverless.yml")
    assert "the file is 5.0 MB; the limit is 4.0 MB" in info.value.message
    assert info.value.where is not None and info.value.where.file == "serverless.yml"


@pytest.mark.timeout(30)
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "serverless.yml")
    with pytest.raises(ShipwayError) as info:
        load_yaml(tmp_path / "serverless.yml", "serverless.yml")
    assert "not a regular file" in info.value.message


def test_a_symlink_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text("service: stolen\n")
    repo = tmp_path / "repo"
    (repo / "services/a").mkdir(parents=True)
    (repo / "services/a/serverless.yml").symlink_to(outside)
    with pytest.raises(ShipwayError) as info:
        load_yaml(repo / "services/a/serverless.yml", "services/a/serverless.yml")
    assert "leads outside the repository" in info.value.message
    assert info.value.where is not None
    assert info.value.where.file == "services/a/serverless.yml"


def test_a_symlink_inside_the_repository_is_read(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "services/a").mkdir(parents=True)
    (repo / "common.yml").write_text("service: shared\n")
    (repo / "services/a/serverless.yml").symlink_to("../../common.yml")
    doc = load_yaml(repo / "services/a/serverless.yml", "services/a/serverless.yml")
    assert doc == {"service": "shared"}


def test_serverless_files_read_yaml_12_booleans_as_js_yaml_does() -> None:
    from shipway.config.yamlsrc import parse_yaml

    text = "ON: yes\nno: off\nt: true\nf: FALSE\n"
    assert parse_yaml(text, "serverless.yml", core_booleans=True) == {
        "ON": "yes",
        "no": "off",
        "t": True,
        "f": False,
    }
    # buildspec.yml and shipway.yml keep YAML 1.1's
    assert parse_yaml("a: yes\n", "buildspec.yml") == {"a": True}
