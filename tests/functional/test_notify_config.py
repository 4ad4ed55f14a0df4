"""shipway.yml `environments.<env>.notify`: http(s) URLs only, bounded, errors with
file:line:key that never quote the URL (a webhook URL carries its token)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.config.project import load_project
from shipway.config.webhooks import shown_url, webhook_problem
from shipway.errors import ConfigErrors
from tests.conftest import write_files

SLS = (
    "service: a\nprovider:\n  name: aws\n  runtime: python3.11\n"
    "functions:\n  f:\n    handler: h.f\n"
)


def _project(tmp_path: Path, notify: str) -> Path:
    write_files(
        tmp_path,
        {
            "shipway.yml": f"project: x\nenvironments:\n  dev:\n    branch: dev\n{notify}",
            "services/a/serverless.yml": SLS,
        },
    )
    return tmp_path


def test_urls_load_into_the_environment(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        "    notify:\n      - https://hooks.example.com/T0/B0/s3cr3t\n      - http://127.0.0.1:9/x\n",
    )
    env = load_project(root).environments["dev"]
    assert env.notify == ("https://hooks.example.com/T0/B0/s3cr3t", "http://127.0.0.1:9/x")


def test_bad_urls_name_line_and_key_and_never_quote_the_url(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        "    notify:\n"
        "      - ftp://files.example.com/tok3n-a\n"  # line 6
        "      - https:///tok3n-b\n"
        "      - https://ok.example.com/tok3n-c\n"
        "      - https://ok.example.com/tok3n-c\n"  # line 9: twice
        "      - 'https://x.example.com/a b tok3n-d'\n",
    )
    with pytest.raises(ConfigErrors) as info:
        load_project(root)
    found = {(e.where.line, e.where.key): e.message for e in info.value.errors if e.where}
    assert set(found) == {
        (6, "environments.dev.notify[0]"),
        (7, "environments.dev.notify[1]"),
        (9, "environments.dev.notify[3]"),
        (10, "environments.dev.notify[4]"),
    }
    assert "scheme `ftp`" in found[(6, "environments.dev.notify[0]")]
    assert "no host" in found[(7, "environments.dev.notify[1]")]
    assert "tok3n" not in str(info.value)


def test_at_most_ten_urls(tmp_path: Path) -> None:
    urls = "".join(f"      - https://h{i}.example.com/\n" for i in range(11))
    root = _project(tmp_path, "    notify:\n" + urls)
    with pytest.raises(ConfigErrors) as info:
        load_project(root)
    [error] = info.value.errors
    assert error.where is not None and error.where.key == "environments.dev.notify"
    assert "11 webhook URLs; the limit is 10" in error.message


def test_a_url_that_is_not_a_string_is_a_schema_error(tmp_path: Path) -> None:
    root = _project(tmp_path, "    notify: [{url: x}]\n")
    with pytest.raises(ConfigErrors) as info:
        load_project(root)
    assert info.value.errors[0].where is not None
    assert info.value.errors[0].where.key == "environments.dev.notify[0]"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@hooks.example.com/T0/B0/secret?token=abc", "https://hooks.example.com/…"),
        ("http://127.0.0.1:8080/x?k=v", "http://127.0.0.1:8080/…"),
        ("https://[::1]:9/x", "https://[::1]:9/…"),
        ("gopher://h/x", "?://h/…"),
        ("https://h:99999999/x", "(an unreadable URL)"),
    ],
)
def test_shown_url_keeps_scheme_and_host_alone(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_webhook_problem() -> None:
    assert webhook_problem("https://hooks.slack.com/services/T/B/x") is None
    assert webhook_problem("") is not None
    assert webhook_problem("https://h/x#frag") is not None
    assert webhook_problem("https://h:0/x") is not None
    assert webhook_problem("https://h/" + "a" * 3000) is not None
