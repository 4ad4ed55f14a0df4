"""After a kill -9: what a dead run left behind is stopped and removed at the next command.

A run whose process died is marked `interrupted` (its state is true again); first the process
groups its builds started are killed, so a build cannot go on doing side effects; then its
workspace (the commit and its `.env` files) and its builds' scratch space are removed; a
deploy's half-written `.staging-*` release is discarded once no deploy holds the environment,
and a switch it made but never recorded is put back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from pathlib import Path

from shipway.errors import ShipwayError
from shipway.pipeline.locks import environment_lock
from shipway.pipeline.paths import StatePaths
from shipway.source.checkouts import wipe_idle
from shipway.store.sqlite import Store, process_alive
from shipway.targets.local.releases import ReleaseStore

_SOURCE_PREFIX = "source-"


def recover(store: Store, paths: StatePaths) -> list[str]:
    """Mark the runs of dead processes interrupted, stop their builds, clean up after them.
    Returns the ids of the runs marked."""
    orphans = store.mark_orphans_interrupted(before=lambda run_id: _kill_builds(store, run_id))
    for run_id in orphans:
        store.forget_build_groups(run_id)
        remove_run_files(paths, run_id)
        _undo_unrecorded_switch(store, paths, run_id)
        _note_recorded_release(store, run_id)
    _remove_dead_exports(paths)
    _discard_staging(paths)
    if orphans:  # a dead run's workspace holds what its builds wrote
        wipe_idle(paths.checkouts())
    return orphans


def remove_run_files(paths: StatePaths, run_id: str) -> None:
    """A finished run keeps its logs and artifacts, never its workspace or scratch space."""
    runs = (paths.home / "runs").resolve()
    if paths.run_dir(run_id).resolve().parent != runs:  # an id from the store is not trusted
        return
    shutil.rmtree(paths.workspace(run_id), ignore_errors=True)
    shutil.rmtree(paths.scratch(run_id), ignore_errors=True)


def _remove_dead_exports(paths: StatePaths) -> None:
    """Exports of killed processes (`tmp/source-<pid>_<start>_…`), as versions before
    reusable checkouts left them."""
    try:
        names = os.listdir(paths.tmp())
    except OSError:
        return
    for name in names:
        if not name.startswith(_SOURCE_PREFIX):
            continue
        pid, _, rest = name[len(_SOURCE_PREFIX) :].partition("_")
        started = rest.partition("_")[0]
        if pid.isdigit() and not process_alive(f"{pid}:{started}"):
            shutil.rmtree(paths.tmp() / name, ignore_errors=True)


def _kill_builds(store: Store, run_id: str) -> None:
    for pgid, identity in store.build_groups(run_id):
        kill_group(pgid, identity)


def kill_group(pgid: int, identity: str) -> None:
    """SIGKILL the process group a build started, unless its pid now names another process.

    While any process of a group lives, the kernel does not reuse its id; so a leader that
    is gone means the group is either gone too (the kill does nothing) or its members are
    ours. A leader that exists must be the one recorded (same start time)."""
    if pgid <= 1 or pgid == os.getpgid(0):
        return
    leader = Path(f"/proc/{pgid}").exists()
    if leader and (identity.endswith(":?") or not process_alive(identity)):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _undo_unrecorded_switch(store: Store, paths: StatePaths, run_id: str) -> None:
    """A deploy killed after its switch but before its release was recorded left `current`
    on a release the store does not know: switch back to the last recorded one, so the
    environment is on the release `status` shows and the run's release number is free."""
    try:
        run = store.run(run_id)
        releases = ReleaseStore(paths.home, run.env)
        with environment_lock(paths.env_lock(run.env), run.env, wait=False):
            current = releases.current()
            recorded = store.release_numbers(run.env)
            if current is None or current[0] in recorded:
                return
            if releases.manifest(current[0]).commit != run.commit:
                return  # not this run's release: leave it to whoever made it
            live = [n for n in releases.numbers() if n in recorded]
            if live:
                releases.switch(max(live))
            else:
                releases.current_link.unlink(missing_ok=True)
            shutil.rmtree(releases.path(current[0]), ignore_errors=True)
    except (OSError, ShipwayError):  # a deploy holds the environment, or nothing is there
        return


def _note_recorded_release(store: Store, run_id: str) -> None:
    """A run killed after its release was recorded: the release is live and the run says so."""
    release = store.release_of_run(run_id)
    if release is not None:
        store.update_run(
            run_id,
            release=release.number,
            error=f"interrupted after release {release.number} went live",
        )


def _discard_staging(paths: StatePaths) -> None:
    """Half-written releases of the local target and half-made `current` links, where no
    deploy is running now."""
    envs = paths.home / "envs"
    try:
        names = os.listdir(envs)
    except OSError:
        return
    for env in names:
        # a deploy killed while switching leaves its new `.current-*` link beside `current`
        # (the staging folder already renamed): that is stale too
        staged = any(n.startswith(".staging-") for n in _listing(envs / env / "releases"))
        if not staged and not any(n.startswith(".current-") for n in _listing(envs / env)):
            continue
        try:
            with environment_lock(paths.env_lock(env), env, wait=False):
                ReleaseStore(paths.home, env).discard_stale()
        except (OSError, ShipwayError):  # a bad name, or a deploy holds the lock
            continue


def _listing(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []
