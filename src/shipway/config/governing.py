"""Which shipway.yml governs a run: a push must not loosen its own gate.

What decides whether and how a commit may reach an environment — the environments, their
branches, approvals and approvers, targets, queue mode, notify URLs, params and secrets —
is read from `shipway.yml` on the control branch; what the commit builds (its services,
build settings, `.env` files) is read from the commit itself. A push to `dev` that drops
prod's approval, adds itself as an approver or points prod at `dev` changes nothing until
that shipway.yml is on the control branch (where a review put it).

The control branch: the repository's default branch (a bare repository's HEAD, else
`main`), or the branch its shipway.yml names in `control_branch:`. Only the default
branch's file can name another one — a commit's own `control_branch:` is never followed.

config/ runs no git: the caller passes `read_file(ref, path) -> bytes | None` (None when the
ref or the file does not exist); source/refs.py's `read_at` is the git side of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shipway.config.project import parse_environments
from shipway.config.services import PROJECT_FILE
from shipway.errors import ConfigErrors, ShipwayError, Where
from shipway.limits import MAX_CONFIG_BYTES, megabytes
from shipway.model import Environment

__all__ = ["Governing", "ReadFile", "governing_config", "governing_environments"]

ReadFile = Callable[[str, str], bytes | None]


@dataclass(frozen=True)
class Governing:
    """The environments that govern a run, and where they were read."""

    environments: dict[str, Environment]
    ref: str  # `refs/heads/<control branch>`, or the commit's sha when `fallback`
    control_branch: str
    fallback: bool  # the control branch has no shipway.yml yet: the commit's own governs


def governing_config(read_file: ReadFile, commit: str, default_branch: str = "main") -> Governing:
    """The governing environments for a run of `commit` (a sha).

    1. `shipway.yml` at `refs/heads/<default_branch>`; when it says `control_branch: B` (not
       the default branch), `shipway.yml` at `refs/heads/B` governs instead (B's own
       `control_branch:` is not followed further). When B does not exist or has no
       shipway.yml, the default branch's file governs.
    2. When the default branch does not exist or has no shipway.yml (a fresh repository,
       whose first push is the one that adds Shipway), the commit's own shipway.yml
       governs: there is no gate yet that it could loosen. `fallback` says so.

    Errors (ConfigErrors, ShipwayError) name the file; a broken shipway.yml on the control
    branch stops every run until it is fixed there, rather than being skipped.
    """
    default_ref = f"refs/heads/{default_branch}"
    text = _text(read_file(default_ref, PROJECT_FILE), default_branch)
    if text is None:
        own = _text(read_file(commit, PROJECT_FILE), commit[:12])
        if own is None:
            raise ShipwayError(
                f"commit {commit[:12]} has no {PROJECT_FILE} (nor has `{default_branch}`)",
                Where(PROJECT_FILE),
                hint="run `shipway init` and commit the file",
            )
        environments, _ignored = _parse(own, commit[:12])
        return Governing(environments, commit, default_branch, fallback=True)
    environments, control = _parse(text, default_branch)
    if control != default_branch:
        control_ref = f"refs/heads/{control}"
        other = _text(read_file(control_ref, PROJECT_FILE), control)
        if other is not None:
            environments, _ignored = _parse(other, control)
            return Governing(environments, control_ref, control, fallback=False)
    return Governing(environments, default_ref, default_branch, fallback=False)


def governing_environments(
    read_file: ReadFile, commit: str, default_branch: str = "main"
) -> dict[str, Environment]:
    """`governing_config(...).environments`."""
    return governing_config(read_file, commit, default_branch).environments


def _text(data: bytes | None, at: str) -> str | None:
    if data is None:
        return None
    where = Where(f"{PROJECT_FILE} (at {at})")
    if len(data) > MAX_CONFIG_BYTES:
        raise ShipwayError(
            f"the file is {megabytes(len(data))}; the limit is {megabytes(MAX_CONFIG_BYTES)}",
            where,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ShipwayError("not UTF-8 text", where) from None


def _parse(text: str, at: str) -> tuple[dict[str, Environment], str]:
    """parse_environments, with each error's file named `shipway.yml (at <branch>)`."""
    try:
        return parse_environments(text)
    except ConfigErrors as exc:
        raise ConfigErrors([_at(e, at) for e in exc.errors]) from None
    except ShipwayError as exc:
        raise _at(exc, at) from None


def _at(error: ShipwayError, at: str) -> ShipwayError:
    where = error.where or Where(PROJECT_FILE)
    return ShipwayError(
        error.message, Where(f"{where.file} (at {at})", where.line, where.key), error.hint
    )
