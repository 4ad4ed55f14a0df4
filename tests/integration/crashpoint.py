"""`shipway` that SIGKILLs itself at a named step: the crash points of test_server_crash.py
that no observer outside the process can catch in time (between a rename and a symlink of
the release switch, between a write and the store's record of it).

    python crashpoint.py POINT ARMED shipway-arguments...

runs the `shipway` command (`serve --repo BARE …`) with its steps wrapped here, in the test's
process image and not in the product: the product has no test hook. When POINT's step is
reached while the file ARMED exists (so the baseline run before it goes through), the process
kills itself with SIGKILL at once, exactly as a `kill -9` arriving then would leave it: no
handler, no `finally`, no flush.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from shipway.model import RunState, Stage, StageState
from shipway.store.sqlite import Store
from shipway.targets.local import target as local_target

# a step's check: (its positional arguments, its result or None before it ran) -> fire now
Check = Callable[[tuple[Any, ...], Any], bool]


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _wrap(owner: Any, name: str, armed: str, before: Check | None, after: Check | None) -> None:
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before is not None and os.path.exists(armed) and before(args, None):
            _die()
        result = original(*args, **kwargs)
        if after is not None and os.path.exists(armed) and after(args, result):
            _die()
        return result

    setattr(owner, name, wrapper)


def _always(_args: tuple[Any, ...], _result: Any) -> bool:
    return True


def _claimed(_args: tuple[Any, ...], result: Any) -> bool:
    return result is not None  # None: not its turn, nothing changed


def _stage_is(stage: Stage, state: StageState) -> Check:
    def check(args: tuple[Any, ...], _result: Any) -> bool:
        return args[2:4] == (stage, state)  # (store, run_id, stage, state, …)

    return check


def _release_renamed(args: tuple[Any, ...], _result: Any) -> bool:
    """The rename of a staged release of the local target to its final name."""
    src, dst = (str(a) for a in args[:2])
    in_releases = os.path.basename(os.path.dirname(dst)) == "releases"
    return os.path.basename(src).startswith(".staging-") and in_releases


def _current_link(args: tuple[Any, ...], _result: Any) -> bool:
    return os.path.basename(str(args[1])) == "current"


def _temp_link(args: tuple[Any, ...], _result: Any) -> bool:
    return os.path.basename(str(args[1])).startswith(".current-")


def _deploy_lock(args: tuple[Any, ...], _result: Any) -> bool:
    """The deploy stage's lock (not the one pruning old releases takes after a run)."""
    fd, operation = args[:2]
    path = os.readlink(f"/proc/self/fd/{fd}")
    if not (path.endswith("/deploy.lock") and operation & fcntl.LOCK_EX):
        return False
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_filename.endswith(os.path.join("pipeline", "stages.py")):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _unpacked_once() -> Check:
    seen: list[object] = []

    def check(args: tuple[Any, ...], _result: Any) -> bool:
        seen.append(args)
        return len(seen) == 1  # one service of the release unpacked, the next not yet

    return check


def _slow_recorded(args: tuple[Any, ...], _result: Any) -> bool:
    return bool(args[2].service == "slow")  # (store, key, artifact, …)


def _slow_group(args: tuple[Any, ...], _result: Any) -> bool:
    return bool(args[2] == "slow")  # (store, run_id, service, pgid)


def _succeeded(args: tuple[Any, ...], _result: Any) -> bool:
    return bool(args[2] == RunState.SUCCEEDED)  # (store, run_id, state, …)


def install(point: str, armed: str) -> None:
    """Wrap the step named `point` (KeyError for an unknown one)."""
    points: dict[str, tuple[Any, str, Check | None, Check | None]] = {
        # the run is claimed (`running`), its source stage not begun
        "claimed": (Store, "claim_run", None, _claimed),
        "source-started": (Store, "set_stage", None, _stage_is(Stage.SOURCE, StageState.RUNNING)),
        # between two stages: none is running
        "source-done": (Store, "set_stage", None, _stage_is(Stage.SOURCE, StageState.SUCCEEDED)),
        # `slow`'s artifact is in the artifact store and recorded; its job not yet done
        # `slow`'s first command forked, its process group not yet recorded (it waits at
        # the gate of build/shell.py, and must never start once the server is gone)
        "group-unrecorded": (Store, "add_build_group", _slow_group, None),
        "artifact-stored": (Store, "record_build", None, _slow_recorded),
        # every build job recorded as done, the build stage not yet
        "builds-done": (Store, "set_stage", _stage_is(Stage.BUILD, StageState.SUCCEEDED), None),
        "deploy-started": (Store, "set_stage", None, _stage_is(Stage.DEPLOY, StageState.RUNNING)),
        "deploy-locked": (fcntl, "flock", None, _deploy_lock),
        "release-unpacking": (local_target, "unpack_zip", None, _unpacked_once()),
        "staging-complete": (os, "rename", _release_renamed, None),
        "release-renamed": (os, "rename", None, _release_renamed),
        "link-made": (os, "symlink", None, _temp_link),
        "release-switched": (os, "replace", None, _current_link),
        "record-written": (Store, "add_release", _always, None),
        "release-recorded": (Store, "add_release", None, _always),
        "run-succeeded": (Store, "finish_run", None, _succeeded),
    }
    owner, name, before, after = points[point]
    _wrap(owner, name, armed, before, after)


POINTS = (
    "claimed",
    "source-started",
    "source-done",
    "artifact-stored",
    "builds-done",
    "deploy-started",
    "deploy-locked",
    "release-unpacking",
    "staging-complete",
    "release-renamed",
    "link-made",
    "release-switched",
    "record-written",
    "release-recorded",
    "run-succeeded",
)


if __name__ == "__main__":
    install(sys.argv[1], sys.argv[2])
    from shipway.cli.main import main

    sys.argv = ["shipway", *sys.argv[3:]]
    main()
