"""Hostile `.env` files: linear work, python-dotenv's syntax kept, every bad file a clear
error naming file:line, nothing read outside the repository."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv.parser import parse_stream
from dotenv.variables import parse_variables

from shipway.config import dotenv as dotenv_module
from shipway.config.dotenv import load_env
from shipway.config.dotenv_syntax import bindings, expand
from shipway.errors import ConfigErrors, ShipwayError

TRICKY = [
    "A=1\nB=2\n",
    "export A='x y'  # c\nB=\"multi\nline\" # c\nC=plain value   # comment\nD=a#b\n",
    "A=  spaced   \nB=tab\there\t#x\nC= #only comment\nE\n# c\n\n",
    "A='unterminated\nB=\"also\nC=x\n",
    '\'quoted key\'=v\nbad line here\nA="esc \\n \\" \\\\"\n',
    "A=x\r\nB=y\rC=z\n",
    "A=${B}${C:-def}${D:-}${ E }x\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_bindings_are_python_dotenvs(text: str) -> None:
    assert list(bindings(text)) == list(parse_stream(io.StringIO(text)))


VALUES = [
    "${A}",
    "x${A}y${B:-dflt}z",
    "${A:x}${B}",
    "${A:-${B}}",
    "${${${A}",
    "$${A}",
    "${A",
    "${:-d}",
    "${A:-}${UNSET}${UNSET:-d}",
    "${A:-d",
    "${A:-d}}",
    "${A:${B}:-x}",
]


@pytest.mark.parametrize("value", VALUES)
def test_expansion_is_python_dotenvs(value: str) -> None:
    scope = {"A": "aa", "B": "", "": "empty"}
    expected = "".join(atom.resolve(scope) for atom in parse_variables(value))
    assert expand(value, scope, 10**6) == expected


def test_hostile_values_parse_without_quadratic_rescans() -> None:
    # python-dotenv's comment strip and `${` regex rescan the rest at every position
    spaces = "A=x" + " " * 300_000 + "y\n"
    assert [b.value for b in bindings(spaces)] == ["x" + " " * 300_000 + "y"]
    assert expand("${" * 300_000, {}, 10**7) == "${" * 300_000
    assert expand("${a:" * 300_000, {}, 10**7) == "${a:" * 300_000


class _CountingEnviron(dict[str, str]):
    """os.environ stand-in that counts how often it is copied."""

    copies = 0

    def __iter__(self) -> Iterator[str]:
        type(self).copies += 1
        return super().__iter__()

    def keys(self):  # type: ignore[no-untyped-def]
        type(self).copies += 1
        return super().keys()


def test_the_scope_is_built_once_not_per_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("".join(f"K{i}=${{HOME}}-{i}\n" for i in range(2000)))
    monkeypatch.setattr(os, "environ", _CountingEnviron(HOME="/h"))
    _CountingEnviron.copies = 0
    values = dotenv_module.load_env(tmp_path, "dev").values
    assert values["K3"] == "/h-3"
    assert _CountingEnviron.copies <= 2


def test_twenty_thousand_lines_load(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("".join(f"KEY_{i}=value-{i}\n" for i in range(20_000)))
    (tmp_path / ".env.dev").write_text("".join(f"D_{i}=${{KEY_{i}}}\n" for i in range(20_000)))
    values = load_env(tmp_path, "dev").values
    assert len(values) == 40_000
    assert values["D_19999"] == "value-19999"


def _problems(tmp_path: Path) -> list[ShipwayError]:
    with pytest.raises(ConfigErrors) as info:
        load_env(tmp_path, "dev", "svc")
    return info.value.errors


@pytest.mark.parametrize("line", ["A=x\0y", "A\0B=x", 'A="x\0y"'])
def test_a_nul_byte_is_an_error_naming_file_and_line(tmp_path: Path, line: str) -> None:
    (tmp_path / ".env.dev").write_text("OK=1\n" + line + "\n")
    [error] = _problems(tmp_path)
    assert error.where is not None
    assert (error.where.file, error.where.line) == (".env.dev", 2)
    assert "NUL" in error.message


def test_a_doubling_chain_is_an_error_naming_the_key(tmp_path: Path) -> None:
    lines = ["A0=xxxxxxxxxxxxxxxx"] + [f"A{i}=${{A{i - 1}}}${{A{i - 1}}}" for i in range(1, 40)]
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    [error] = _problems(tmp_path)
    assert error.where is not None and error.where.file == ".env"
    assert error.where.key == "A14"
    assert "longer than 128 KB" in error.message


def test_many_large_values_are_bounded_in_total(tmp_path: Path) -> None:
    big = "x" * 100_000
    (tmp_path / ".env").write_text(f"BIG={big}\n" + "".join(f"C{i}=${{BIG}}\n" for i in range(50)))
    [error] = _problems(tmp_path)
    assert "more than 1.0 MB of values" in error.message
    assert error.where is not None and error.where.line is not None


def test_a_symlink_leaving_the_repository_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("ROOT_PASSWORD=hunter2\n")
    repo = tmp_path / "repo"
    (repo / "svc").mkdir(parents=True)
    (repo / "svc/.env").symlink_to(secret)
    [error] = _problems(repo)
    assert error.where is not None and error.where.file == "svc/.env"
    assert "leads outside the repository" in error.message
    assert "hunter2" not in str(error)


def test_a_symlink_inside_the_repository_is_read(tmp_path: Path) -> None:
    (tmp_path / "svc").mkdir()
    (tmp_path / "shared.env").write_text("A=1\n")
    (tmp_path / "svc/.env").symlink_to("../shared.env")
    assert load_env(tmp_path, "dev", "svc").values == {"A": "1"}


@pytest.mark.timeout(30)
def test_a_fifo_layer_is_an_error_and_a_folder_is_skipped(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()  # a virtualenv called .env
    os.mkfifo(tmp_path / ".env.dev")
    [error] = _problems(tmp_path)
    assert error.where is not None and error.where.file == ".env.dev"
    assert "not a regular file" in error.message
