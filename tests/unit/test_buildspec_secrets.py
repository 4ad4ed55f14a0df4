"""secret_references: what the pipeline fetches for env.parameter-store / secrets-manager.

Syntax (CodeBuild buildspec reference, env/secrets-manager):
`secret-id:json-key:version-stage:version-id`; every field but secret-id is optional, and
secret-id may be a name or an ARN (which has colons of its own).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shipway.build.secrets import SecretRef, secret_references
from shipway.config.buildspec import parse_buildspec, parse_secret_reference
from shipway.errors import ConfigErrors

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("prod/db", ("prod/db", None, None, None)),
        ("prod/db:password", ("prod/db", "password", None, None)),
        ("prod/db:password:AWSPREVIOUS", ("prod/db", "password", "AWSPREVIOUS", None)),
        ("prod/db::AWSPENDING", ("prod/db", None, "AWSPENDING", None)),
        ("prod/db:::0123-abcd", ("prod/db", None, None, "0123-abcd")),
        ("prod/db:user::", ("prod/db", "user", None, None)),
        ("Github/token:actions read", ("Github/token", "actions read", None, None)),
        (ARN, (ARN, None, None, None)),
        (f"{ARN}:password", (ARN, "password", None, None)),
        (f"{ARN}:password:AWSCURRENT:v-1", (ARN, "password", "AWSCURRENT", "v-1")),
        (f"{ARN}:::v-2", (ARN, None, None, "v-2")),
    ],
)
def test_parse_secret_reference(reference: str, expected: tuple[str | None, ...]) -> None:
    ref = parse_secret_reference("X", reference)
    assert (ref.name, ref.json_key, ref.version_stage, ref.version_id) == expected
    assert ref.kind == "secrets-manager" and ref.env_name == "X"


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (":password", "no secret-id"),
        ("a:b:c:d:e", "expected at most 4"),
        (f"{ARN}:a:b:c:d", "expected at most 4"),
        ("arn:aws:secretsmanager:eu-west-1", "not a secret ARN"),
    ],
)
def test_parse_secret_reference_errors(reference: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_secret_reference("X", reference)


def test_secret_references_from_a_buildspec(tmp_path: Path) -> None:
    f = tmp_path / "buildspec.yml"
    f.write_text(
        textwrap.dedent(
            f"""\
            version: 0.2
            env:
              parameter-store:
                DB_HOST: /app/db/host
                TOKEN: arn:aws:ssm:eu-west-1:123456789012:parameter/app/token
              secrets-manager:
                DB_PASS: prod/db:password:AWSCURRENT
                API_KEY: "{ARN}:key"
            phases:
              build: {{commands: [echo]}}
            """
        )
    )
    spec = parse_buildspec(f, "buildspec.yml")
    assert secret_references(spec) == [
        SecretRef("DB_HOST", "parameter-store", "/app/db/host"),
        SecretRef(
            "TOKEN", "parameter-store", "arn:aws:ssm:eu-west-1:123456789012:parameter/app/token"
        ),
        SecretRef("DB_PASS", "secrets-manager", "prod/db", "password", "AWSCURRENT"),
        SecretRef("API_KEY", "secrets-manager", ARN, "key"),
    ]


def test_bad_secret_reference_is_a_parse_error_with_line(tmp_path: Path) -> None:
    f = tmp_path / "buildspec.yml"
    f.write_text(
        "version: 0.2\nenv:\n  secrets-manager:\n    OK: a:b\n    BAD: a:b:c:d:e\n"
        "phases:\n  build: {commands: [echo]}\n"
    )
    with pytest.raises(ConfigErrors) as info:
        parse_buildspec(f, "svc/buildspec.yml")
    (error,) = info.value.errors
    assert error.where is not None and error.where.line == 5
    assert error.where.key == "env.secrets-manager.BAD"
    assert "expected at most 4" in error.message
