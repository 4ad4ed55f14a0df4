"""`.env` layering: root, root per environment, service, service per environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.config.dotenv import is_secret_key, load_env
from shipway.errors import ConfigErrors
from tests.conftest import write_files


def test_later_layers_override_earlier(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            ".env": "A=root\nB=root\nC=root\nD=root\n",
            ".env.dev": "B=root-dev\n",
            "svc/.env": "C=svc\n",
            "svc/.env.dev": "D=svc-dev\n",
            ".env.prod": "A=prod-only\n",
        },
    )
    values = load_env(tmp_path, "dev", "svc").values
    assert dict(values) == {"A": "root", "B": "root-dev", "C": "svc", "D": "svc-dev"}
    assert load_env(tmp_path, "prod", None).values["A"] == "prod-only"


def test_dotenv_syntax_and_expansion_across_layers(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            ".env": (
                '# comment\nexport HOST=db.internal\nQUOTED="two words"\nMULTI="line1\nline2"\n'
            ),
            "svc/.env": "URL=postgres://${HOST}:5432/app\nEMPTY=\n",
        },
    )
    values = load_env(tmp_path, "dev", "svc").values
    assert values["HOST"] == "db.internal"
    assert values["QUOTED"] == "two words"
    assert values["MULTI"] == "line1\nline2"
    assert values["URL"] == "postgres://db.internal:5432/app"
    assert values["EMPTY"] == ""


def test_secret_keys_are_detected(tmp_path: Path) -> None:
    write_files(tmp_path, {".env": "DB_PASSWORD=hunter2\nAPI_TOKEN=t\nPLAIN=x\nEXTRA=declared\n"})
    env = load_env(tmp_path, "dev", None, declared_secrets=["EXTRA"])
    assert env.secret_keys == {"DB_PASSWORD", "API_TOKEN", "EXTRA"}
    assert env.secret_values == {"hunter2", "t", "declared"}
    assert is_secret_key("stripe_secret_key") and not is_secret_key("REGION")


def test_parse_error_names_file_and_line(tmp_path: Path) -> None:
    write_files(tmp_path, {".env.dev": "GOOD=1\nthis is not an assignment\n"})
    with pytest.raises(ConfigErrors) as info:
        load_env(tmp_path, "dev", None)
    [error] = info.value.errors
    assert error.where is not None and (error.where.file, error.where.line) == (".env.dev", 2)
