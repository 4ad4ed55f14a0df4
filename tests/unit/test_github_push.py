"""GitHub's push webhook: the signature over the raw body, the payload's fields, and which
watched remote a payload is about."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from shipway.errors import ShipwayError
from shipway.source.github import parse_push, same_repository, signature_matches

A, B = "a" * 40, "b" * 40
SECRET = "It's a Secret to Everybody"


def _signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_the_signature_is_hmac_sha256_of_the_exact_body() -> None:
    # GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert _signed(b"Hello, World!") == expected
    assert signature_matches(b"Hello, World!", expected, SECRET)
    for header in (None, "", expected.upper(), expected[:-1] + "8", "sha1=" + expected[7:]):
        assert not signature_matches(b"Hello, World!", header, SECRET)
    assert not signature_matches(b"Hello, World! ", expected, SECRET)  # one byte more
    assert not signature_matches(b"Hello, World!", expected, SECRET + "x")


def test_a_push_payload_gives_its_ref_update_and_every_url_of_its_repository() -> None:
    doc = {
        "ref": "refs/heads/dev",
        "before": A,
        "after": B,
        "repository": {
            "clone_url": "https://github.com/acme/ledger.git",
            "ssh_url": "git@github.com:acme/ledger.git",
            "html_url": "https://github.com/acme/ledger",
            "owner": {"login": "acme"},
        },
        "commits": [{"id": B, "message": "x" * 10_000}],
    }
    push = parse_push(json.dumps(doc).encode())
    assert (push.update.branch, push.update.old, push.update.new) == ("dev", A, B)
    assert push.repository_urls == (
        "https://github.com/acme/ledger.git",
        "git@github.com:acme/ledger.git",
        "https://github.com/acme/ledger",
    )


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b"not json", "not JSON"),
        (b"[" * 100_000, "not JSON"),
        (b"[]", "object"),
        (b'{"ref": "refs/heads/..", "before": "' + A.encode() + b'"}', "`ref`"),
        (json.dumps({"ref": "refs/heads/dev", "before": "x", "after": B}).encode(), "`before`"),
        (json.dumps({"ref": "refs/heads/dev", "before": A, "after": B}).encode(), "repository"),
        (
            json.dumps(
                {"ref": "refs/heads/dev", "before": A, "after": B, "repository": {"id": 1}}
            ).encode(),
            "URL",
        ),
    ],
)
def test_a_malformed_payload_is_an_error_naming_the_field(body: bytes, names: str) -> None:
    with pytest.raises(ShipwayError, match=names):
        parse_push(body)


def test_a_remote_is_the_same_repository_whatever_its_spelling() -> None:
    urls = ("https://github.com/Acme/Ledger.git", "git@github.com:Acme/Ledger.git")
    for mine in (
        "https://github.com/acme/ledger",
        "https://x-access-token:secret@github.com/acme/ledger.git",
        "ssh://git@github.com/acme/ledger.git",
        "git@github.com:acme/ledger",
        "git://github.com/acme/ledger.git/",
    ):
        assert same_repository(mine, urls), mine
    for other in (
        "https://github.com/acme/ledger-old.git",
        "https://gitlab.com/acme/ledger.git",
        "https://github.com/evil/ledger.git",
        "",
        "/srv/ledger.git",
    ):
        assert not same_repository(other, urls), other
    assert same_repository("/srv/git/ledger.git", ("file:///srv/git/ledger.git",))
    assert not same_repository("/srv/git/ledger.git", ("file:///srv/git/Ledger.git",))
