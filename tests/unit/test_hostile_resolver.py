"""Hostile variables: doubling chains, deep nesting, long reference chains and `${file()}`
paths that leave the repository end in errors naming the key — never MemoryError,
RecursionError or a file read from outside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipway.config.variables import Resolver
from shipway.config.yamlsrc import parse_yaml
from shipway.errors import ConfigErrors

YML = "services/a/serverless.yml"


def _repo(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "repo"
    service = root / "services/a"
    service.mkdir(parents=True)
    return root, service


def errors_of(text: str, tmp_path: Path) -> list[str]:
    _root, service = _repo(tmp_path)
    doc = parse_yaml(text, YML)
    with pytest.raises(ConfigErrors) as info:
        Resolver(doc, display=YML, service_dir=service, env={}).resolve()
    return [str(e) for e in info.value.errors]


def test_a_string_doubling_chain_fails_naming_a_key(tmp_path: Path) -> None:
    lines = ["custom:", "  a0: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]
    lines += [f"  a{i}: ${{self:custom.a{i - 1}}}${{self:custom.a{i - 1}}}" for i in range(1, 41)]
    errors = errors_of("\n".join(lines) + "\n", tmp_path)
    assert any("longer than 1.0 MB" in e and "`custom.a" in e for e in errors)


def test_a_list_doubling_chain_fails_naming_a_key(tmp_path: Path) -> None:
    lines = ["custom:", "  a0: [x, y, z]"]
    lines += [
        f'  a{i}: ["${{self:custom.a{i - 1}}}", "${{self:custom.a{i - 1}}}"]' for i in range(1, 41)
    ]
    errors = errors_of("\n".join(lines) + "\n", tmp_path)
    assert any("`custom.a" in e and ("nests deeper" in e or "expand past" in e) for e in errors)


def test_a_wide_doubling_is_bounded_by_the_work_budget(tmp_path: Path) -> None:
    lines = ["custom:", "  a0: [" + ", ".join(["x"] * 100) + "]"]
    for i in range(1, 12):
        lines.append(f"  a{i}: [" + ", ".join([f'"${{self:custom.a{i - 1}}}"'] * 10) + "]")
    errors = errors_of("\n".join(lines) + "\n", tmp_path)
    assert any("expand past" in e for e in errors)


def test_deeply_nested_variables_are_a_syntax_error(tmp_path: Path) -> None:
    text = "custom:\n  x: " + "${self:" * 5000 + "custom.y" + "}" * 5000 + "\n  y: 1\n"
    [error] = errors_of(text, tmp_path)
    assert "services/a/serverless.yml:2: `custom.x`" in error
    assert "nested more than 32 deep" in error


def test_a_long_chain_of_references_fails_naming_a_key(tmp_path: Path) -> None:
    lines = ["custom:"] + [f"  a{i}: ${{self:custom.a{i - 1}}}" for i in range(599, 0, -1)]
    lines.append("  a0: end")
    errors = errors_of("\n".join(lines) + "\n", tmp_path)
    assert any("references chain more than 40 deep" in e for e in errors)


def test_a_file_that_includes_itself_is_bounded(tmp_path: Path) -> None:
    _root, service = _repo(tmp_path)
    (service / "loop.yml").write_text("again: ${file(loop.yml)}\n")
    doc = parse_yaml("custom: ${file(loop.yml)}\n", YML)
    with pytest.raises(ConfigErrors) as info:
        Resolver(doc, display=YML, service_dir=service, env={}).resolve()
    assert any("nests deeper than 100" in str(e) for e in info.value.errors)


@pytest.mark.parametrize(
    "target", ["/etc/passwd", "../../../outside.yml", "../../../../../../etc/hostname"]
)
def test_file_paths_leaving_the_repository_are_refused(tmp_path: Path, target: str) -> None:
    (tmp_path / "outside.yml").write_text("secret: stolen\n")
    [error] = errors_of(f"custom:\n  x: ${{file({target})}}\n", tmp_path)
    assert "services/a/serverless.yml:2: `custom.x`" in error
    assert "leads outside the repository" in error
    assert "stolen" not in error and "root:" not in error


def test_file_paths_may_leave_the_service_folder(tmp_path: Path) -> None:
    root, service = _repo(tmp_path)
    (root / "common.yml").write_text("region: eu-west-1\n")
    (root / "link.yml").symlink_to("common.yml")
    doc = parse_yaml(
        "a: ${file(../../common.yml):region}\nb: ${file(../../link.yml):region}\n", YML
    )
    out = Resolver(doc, display=YML, service_dir=service, env={}).resolve()
    assert out == {"a": "eu-west-1", "b": "eu-west-1"}


def test_a_symlinked_file_target_leaving_the_repository_is_refused(tmp_path: Path) -> None:
    _root, service = _repo(tmp_path)
    (tmp_path / "secret.yml").write_text("k: stolen\n")
    (service / "vars.yml").symlink_to(tmp_path / "secret.yml")
    (service / "zero.txt").symlink_to("/dev/zero")
    doc = parse_yaml("a: ${file(vars.yml):k}\nb: ${file(zero.txt)}\n", YML)
    with pytest.raises(ConfigErrors) as info:
        Resolver(doc, display=YML, service_dir=service, env={}).resolve()
    errors = [str(e) for e in info.value.errors]
    assert len(errors) == 2 and all("leads outside the repository" in e for e in errors)


@pytest.mark.timeout(30)
def test_a_fifo_or_huge_file_is_refused(tmp_path: Path) -> None:
    _root, service = _repo(tmp_path)
    os.mkfifo(service / "pipe.yml")
    (service / "big.txt").write_text("x" * (5 * 1024 * 1024))
    doc = parse_yaml("a: ${file(pipe.yml)}\nb: ${file(big.txt)}\n", YML)
    with pytest.raises(ConfigErrors) as info:
        Resolver(doc, display=YML, service_dir=service, env={}).resolve()
    errors = [str(e) for e in info.value.errors]
    assert "not a regular file" in errors[0]
    assert "the file is 5.0 MB; the limit is 4.0 MB" in errors[1]


def test_deep_json_files_are_refused(tmp_path: Path) -> None:
    _root, service = _repo(tmp_path)
    (service / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (service / "mid.json").write_text("[" * 500 + "]" * 500)
    doc = parse_yaml("a: ${file(deep.json)}\nb: ${file(mid.json)}\n", YML)
    with pytest.raises(ConfigErrors) as info:
        Resolver(doc, display=YML, service_dir=service, env={}).resolve()
    errors = [str(e) for e in info.value.errors]
    assert len(errors) == 2 and all("nested deeper than 100 levels" in e for e in errors)
