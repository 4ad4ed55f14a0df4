"""`environments.<env>.notify: [URL, …]`: the webhook URLs an environment posts its runs to.

A webhook URL usually carries its credential (Slack's `/services/T…/B…/secret`, a `?token=`),
so it is treated as a secret itself: messages and logs show `scheme://host/…` alone
(`shown_url`), never its path, query or user info.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["MAX_NOTIFY_URLS", "MAX_URL_LENGTH", "shown_url", "webhook_problem"]

MAX_NOTIFY_URLS = 10  # per environment: each run end posts to every one
MAX_URL_LENGTH = 2048
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f]")  # controls and spaces: never in a URL as written


def shown_url(url: str) -> str:
    """`https://hooks.example.com/…`: what a log or message may say of a webhook URL."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "(an unreadable URL)"
    scheme = parts.scheme if parts.scheme in ("http", "https") else "?"
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}{port}/…"


def webhook_problem(url: str) -> str | None:
    """What is wrong with `url` as a webhook (None when it is fine); the text never quotes
    more of the URL than `shown_url` does."""
    if not url:
        return "expected an http:// or https:// URL, got an empty string"
    if len(url) > MAX_URL_LENGTH:
        return f"the URL is {len(url)} characters long; the limit is {MAX_URL_LENGTH}"
    if _BAD_CHARS.search(url):
        return "a URL must not hold spaces or control characters (percent-encode them)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a readable URL (its host or port)"
    if parts.scheme not in ("http", "https"):
        scheme = parts.scheme[:10] or "none"
        return f"expected an http:// or https:// URL, not scheme `{scheme}`"
    if not parts.hostname:
        return "the URL names no host"
    if port == 0:
        return "port 0 is not a port to post to"
    if parts.fragment:
        return "a webhook URL has no `#fragment` (it would never reach the server)"
    return None
