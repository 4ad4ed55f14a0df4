"""GitHub's push webhook: its signature, its payload, and which watched remote it is about.

GitHub signs each delivery with the webhook's secret: `X-Hub-Signature-256: sha256=<hex of
HMAC-SHA256(secret, body)>`. The signature is checked over the raw body, in constant time,
before anything of the body is read. Of a push event only `ref`, `before`, `after` and the
repository's URLs are taken: the server then fetches the branch from the environment's own
`source: {git: URL}`, so the commit that runs is what the remote holds, not what a payload
says.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from shipway.errors import ShipwayError
from shipway.source.git import is_ref_name
from shipway.source.triggers import RefUpdate, is_sha

__all__ = [
    "GITHUB_SECRET_FILE",
    "SIGNATURE_HEADER",
    "GitHubPush",
    "parse_push",
    "same_repository",
    "signature_matches",
]

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
GITHUB_SECRET_FILE = "github-secret"
_URL_KEYS = ("clone_url", "ssh_url", "git_url", "html_url", "svn_url", "url")


def signature_matches(body: bytes, header: str | None, secret: str) -> bool:
    """Whether `header` is `sha256=` and the HMAC-SHA256 of `body` under `secret`."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.strip().encode(), expected.encode())


@dataclass(frozen=True)
class GitHubPush:
    update: RefUpdate
    repository_urls: tuple[str, ...]  # every URL the payload gives for the pushed repository


def parse_push(body: bytes) -> GitHubPush:
    """The ref update and repository of a push event's JSON payload; ShipwayError naming
    the field that is missing or malformed."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise ShipwayError("the payload is not JSON") from None
    if not isinstance(doc, dict):
        raise ShipwayError("the payload is not a JSON object")
    ref, before, after = doc.get("ref"), doc.get("before"), doc.get("after")
    if not (isinstance(ref, str) and ref.startswith("refs/") and is_ref_name(ref)):
        raise ShipwayError("the payload's `ref` is not a ref name")
    for name, value in (("before", before), ("after", after)):
        if not (isinstance(value, str) and is_sha(value)):
            raise ShipwayError(f"the payload's `{name}` is not a 40-hex commit id")
    repository = doc.get("repository")
    if not isinstance(repository, dict):
        raise ShipwayError("the payload has no `repository` object")
    urls = tuple(
        dict.fromkeys(
            v for k in _URL_KEYS if isinstance(v := repository.get(k), str) and 0 < len(v) < 2048
        )
    )
    if not urls:
        raise ShipwayError("the payload's `repository` gives no URL")
    assert isinstance(before, str) and isinstance(after, str)
    return GitHubPush(RefUpdate(ref, before, after), urls)


def _identity(url: str) -> tuple[str, str] | None:
    """(host, owner/name) of a git URL in any of GitHub's spellings: https://host/o/n(.git),
    git://host/o/n.git, ssh://git@host/o/n.git, git@host:o/n.git; ("", path) of a
    repository on this machine (/srv/x.git, file:///srv/x.git)."""
    text = url.strip()
    if text.startswith("/") or text.startswith("file://"):  # a repository on this machine
        path = text.removeprefix("file://").rstrip("/").removesuffix(".git")
        return ("", path) if path.startswith("/") else None
    if "://" not in text and "@" in text and ":" in text:  # scp-like: git@host:owner/name
        user_host, _, path = text.partition(":")
        host = user_host.rpartition("@")[2]
    else:
        try:
            parts = urlsplit(text)
            host, path = parts.hostname or "", parts.path
        except ValueError:
            return None
    name = path.strip("/").removesuffix(".git").lower()  # GitHub's names ignore case
    return (host.lower(), name) if host and name else None


def same_repository(url: str, candidates: tuple[str, ...]) -> bool:
    """Whether the remote `url` is one of `candidates` (the payload's URLs), whatever the
    scheme, credentials, case or `.git` suffix."""
    mine = _identity(url)
    return mine is not None and any(_identity(c) == mine for c in candidates)
