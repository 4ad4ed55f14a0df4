"""The git side of push triggers: the post-receive hook Shipway installs in a repository
people push to, the ref updates it reports, and the secret that proves a report came from it.

The hook runs in the pushed repository after git accepted the push. It hands git's lines
(`<old> <new> <ref>`) to `shipway hook post-receive`, which posts them to the server serving
that repository with the secret in `X-Shipway-Hook`. A push never fails because of Shipway:
when no server answers, the hook says so on the pusher's terminal and exits 0.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import stat
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from shipway.errors import ShipwayError, Where
from shipway.source.git import is_ref_name
from shipway.source.triggers import RefUpdate, is_sha

__all__ = [
    "HOOK_HEADER",
    "MAX_HOOK_BODY",
    "hook_secret",
    "install_hook",
    "parse_updates",
    "post_updates",
    "secret_matches",
]

HOOK_HEADER = "X-Shipway-Hook"
HOOK_MARKER = "# installed by shipway: hook post-receive"
SECRET_FILE = "hook-secret"
MAX_HOOK_BODY = 1024 * 1024  # a push of ~10,000 refs
MAX_UPDATES = 10_000


def parse_updates(text: str) -> list[RefUpdate]:
    """git's post-receive lines, `<old-sha> <new-sha> <ref>` each; a malformed line is an
    error naming it (nothing of a bad report is acted on)."""
    updates: list[RefUpdate] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3:
            raise ShipwayError(
                f"line {number}: expected `<old> <new> <ref>`, got {len(parts)} fields"
            )
        old, new, ref = parts
        if not (is_sha(old) and is_sha(new)):
            raise ShipwayError(f"line {number}: old and new must be 40-hex commit ids")
        if not (ref.startswith("refs/") and is_ref_name(ref)):
            raise ShipwayError(f"line {number}: `{ref[:100]}` is not a ref name")
        updates.append(RefUpdate(ref, old, new))
        if len(updates) > MAX_UPDATES:
            raise ShipwayError(f"more than {MAX_UPDATES} refs in one push")
    return updates


def hook_secret(state_dir: Path, name: str = SECRET_FILE) -> str:
    """The secret shared by the server and the hooks of its repository (or, with `name`,
    another sender's, such as a GitHub webhook's): created on first use in the state folder
    (0600), read from it afterwards."""
    path = state_dir / name
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    state_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:  # another process made it first: theirs it is
        return _read_secret(path)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def _read_secret(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd) as f:
        value = f.read(200).strip()
    if len(value) < 32:
        raise ShipwayError("the hook secret is damaged", Where(str(path)), hint="delete it")
    return value


def secret_matches(given: str | None, expected: str) -> bool:
    """A constant-time comparison (a timing must not tell how much of a guess was right)."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def install_hook(repo: Path, command: str, force: bool = False) -> Path:
    """Write `hooks/post-receive` in the repository `repo` (bare, a checkout or a worktree
    of one: the hooks folder is the common git folder's), running `command` (a shell
    command, quoted) with `--repo <git folder>`. Another tool's hook is not replaced
    unless `force`."""
    common = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--git-common-dir"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if common.returncode != 0:
        raise ShipwayError(f"`{repo}` is not a git repository")
    hooks = (repo / common.stdout.strip()).resolve() / "hooks"
    if hooks.is_symlink():
        raise ShipwayError(f"`{hooks}` is a symlink", hint="Shipway writes only a real folder")
    hooks.mkdir(exist_ok=True)
    path = hooks / "post-receive"
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise ShipwayError(f"`{path}` is not a plain file", hint="remove it first")
    if path.is_file() and HOOK_MARKER not in path.read_text(errors="replace") and not force:
        raise ShipwayError(
            f"`{path}` is another tool's hook; it was left as it is",
            hint="call `shipway hook post-receive` from it, or pass --force to replace it",
        )
    script = (
        "#!/bin/sh\n"
        f"{HOOK_MARKER}\n"
        "# git gives `<old> <new> <ref>` lines on stdin; a push never fails because of this\n"
        'GIT_FOLDER="$(git rev-parse --absolute-git-dir)"\n'
        f'exec {command} --repo "$GIT_FOLDER"\n'
    )
    tmp = path.with_name(f".post-receive.{os.getpid()}")
    tmp.write_text(script, encoding="utf-8")
    tmp.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    os.replace(tmp, path)
    return path


def post_updates(
    url: str, secret: str, updates: list[RefUpdate], timeout: float = 30.0
) -> list[dict[str, object]]:
    """Post a push's ref updates to the server at `url` (its /hooks/git); the runs it
    started. ShipwayError when the server does not answer or refuses."""
    body = "".join(f"{u.old} {u.new} {u.ref}\n" for u in updates).encode()
    request = urllib.request.Request(
        f"{url}/hooks/git",
        data=body,
        method="POST",
        headers={HOOK_HEADER: secret, "Content-Type": "text/plain"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read(2000).decode(errors="replace")
        raise ShipwayError(f"the server refused the push ({exc.code}): {detail}") from None
    except (OSError, ValueError) as exc:
        raise ShipwayError(f"the server at {url} did not answer: {exc}") from None
    runs = answer.get("runs", []) if isinstance(answer, dict) else []
    return [r for r in runs if isinstance(r, dict)]
