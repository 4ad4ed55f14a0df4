"""Making, naming and checking API tokens.

A token is `shw_<id>_<secret>`: the prefix makes a leaked one recognisable (secret
scanners, log searches), the id (12 hex digits, not secret: `token list` shows it) finds
its record without comparing secrets in a database index, and the secret is 32 random
bytes from `secrets`. Only SHA-256 of the whole token is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from shipway.auth.records import Role
from shipway.errors import ShipwayError

TOKEN_PREFIX = "shw_"
_ID_HEX = 12
_TOKEN = re.compile(rf"{TOKEN_PREFIX}([0-9a-f]{{{_ID_HEX}}})_[A-Za-z0-9_-]{{43}}")
_TOKEN_IN_TEXT = re.compile(rf"{TOKEN_PREFIX}([0-9a-f]{{{_ID_HEX}}})_[A-Za-z0-9_-]+")
# a user is a name or an e-mail address; `:` is left out so that no token's user can pass
# for the `local:<os user>` of a command run on the machine itself
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")


def new_token() -> tuple[str, str]:
    """(id, token) of a new random token."""
    token_id = secrets.token_hex(_ID_HEX // 2)
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


def token_digest(token: str) -> str:
    """The hash stored for a token. A plain SHA-256 is the right tool here: a token holds
    256 random bits, so there is no dictionary to try and a slow password hash (bcrypt,
    scrypt) would protect nothing more while costing every request its time."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_id(token: str) -> str | None:
    """The id a well-formed token names, else None."""
    found = _TOKEN.fullmatch(token)
    return found.group(1) if found else None


def scrub(text: str) -> str:
    """`text` with the secret part of every token-shaped string in it written as `***`
    (the audit log's last guard: what it records is meant to hold none)."""
    return _TOKEN_IN_TEXT.sub(rf"{TOKEN_PREFIX}\1_***", text)


def check_user(name: str) -> str:
    if not _USER.fullmatch(name):
        raise ShipwayError(
            f"`{name[:80]}` is not a user name",
            hint="letters, digits and . _ @ + -, starting with a letter or digit, at most 64",
        )
    return name


def check_role(name: str) -> Role:
    try:
        return Role(name)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ShipwayError(f"no role `{name[:80]}` (known: {known})") from None
