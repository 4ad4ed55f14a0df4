"""`environments.<env>.source`: where an environment's commits come from.

Without `source`, the server's own repository (pushes through its hook). `git: URL` a
remote (GitHub's webhook, or `poll`); `s3: s3://bucket/key.zip` an object whose every new
version is a source zip, as CodePipeline's S3 source action reads it (polled: `poll`,
default DEFAULT_S3_POLL_S). One of `git` and `s3`, never both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DEFAULT_S3_POLL_S", "S3Location", "parse_s3_url", "source_problem"]

DEFAULT_S3_POLL_S = 60
# S3's rules for bucket names (no dots: a dotted name breaks TLS on virtual-hosted URLs)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\Z")
MAX_KEY = 1024


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_url(url: str) -> S3Location:
    """`s3://bucket/key` -> S3Location; ValueError saying what was expected."""
    if not url.startswith("s3://"):
        raise ValueError("expected s3://BUCKET/KEY.zip")
    bucket, _, key = url[len("s3://") :].partition("/")
    if not _BUCKET.match(bucket):
        raise ValueError(
            f"`{bucket[:70]}` is not an S3 bucket name (3-63 lowercase letters, digits, `-`)"
        )
    if not key or len(key.encode()) > MAX_KEY or any(ord(c) < 32 for c in key):
        raise ValueError(f"expected an object key after the bucket (at most {MAX_KEY} bytes)")
    return S3Location(bucket, key)


def source_problem(git: str | None, s3: str | None, poll: int | None) -> tuple[str, str] | None:
    """(the key, what is wrong) of a `source` block, or None when it is fine."""
    if git is not None and s3 is not None:
        return "s3", "a source is `git` or `s3`, not both"
    if git is None and s3 is None:
        return "poll" if poll is not None else "git", "expected `git: URL` or `s3: s3://…`"
    if git is not None:
        if not git or git.startswith("-") or any(c.isspace() or ord(c) < 32 for c in git):
            return "git", "expected a git URL (https://…, ssh://…, git@host:…, a path)"
        if git.split("::", 1)[0] in ("ext", "fd"):
            return "git", "`ext::` and `fd::` URLs run commands: not accepted"
    if s3 is not None:
        try:
            parse_s3_url(s3)
        except ValueError as exc:
            return "s3", str(exc)
    return None
