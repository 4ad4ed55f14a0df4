"""`environments.<env>.source`: one of `git` and `s3`, each checked where it is written."""

from __future__ import annotations

import pytest

from shipway.config.project import parse_environments
from shipway.config.sources import parse_s3_url, source_problem
from shipway.errors import ConfigErrors


def test_an_s3_url_names_a_bucket_and_a_key() -> None:
    where = parse_s3_url("s3://my-bucket/ledger/app.zip")
    assert (where.bucket, where.key, str(where)) == (
        "my-bucket",
        "ledger/app.zip",
        "s3://my-bucket/ledger/app.zip",
    )
    for bad in ("https://my-bucket/x.zip", "s3://My_Bucket/x.zip", "s3://my-bucket/", "s3://ab/x"):
        with pytest.raises(ValueError):
            parse_s3_url(bad)


@pytest.mark.parametrize(
    ("git", "s3", "poll", "key"),
    [
        ("https://h/x.git", "s3://my-bucket/x.zip", None, "s3"),
        (None, None, 30, "poll"),
        ("-uhack", None, None, "git"),
        ("ext::sh -c id", None, None, "git"),
        ("fd::3", None, None, "git"),
        (None, "s3://x/y", None, "s3"),
    ],
)
def test_a_bad_source_names_its_key(
    git: str | None, s3: str | None, poll: int | None, key: str
) -> None:
    problem = source_problem(git, s3, poll)
    assert problem is not None and problem[0] == key


def test_good_sources_pass_and_a_bad_one_is_a_located_error() -> None:
    assert source_problem("git@github.com:acme/ledger.git", None, 30) is None
    assert source_problem(None, "s3://my-bucket/app.zip", None) is None
    text = "project: p\nenvironments:\n  dev:\n    branch: dev\n    source: {s3: 'ftp://x'}\n"
    with pytest.raises(ConfigErrors) as raised:
        parse_environments(text)
    [error] = raised.value.errors
    assert str(error).startswith("shipway.yml:5: `environments.dev.source.s3`:")
