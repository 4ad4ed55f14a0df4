"""What every environment is on and doing now, from the governing environments and the
store alone: it needs no checkout, so a server of a bare repository answers it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipway.model import AwsTarget, Environment, RunState
from shipway.store.sqlite import Store

__all__ = ["overview"]

_WAITING = (RunState.QUEUED, RunState.RUNNING, RunState.AWAITING_APPROVAL)


def overview(store: Store, envs: Mapping[str, Environment], url: str | None) -> dict[str, Any]:
    """{env: its branch, target, queue mode, approval, release (with each service's commit
    and, on the local target, URL under `url`), last run and the runs not yet ended}."""
    out: dict[str, Any] = {}
    for name, env in envs.items():
        release = store.latest_release(name)
        recent = store.runs(name, limit=50)
        local = not isinstance(env.target, AwsTarget)
        services = {
            s.name: {
                "state": "deployed",
                "commit": s.commit,
                "url": f"{url}/{name}/{s.name}" if url and local else None,
            }
            for s in (release.services if release else ())
        }
        out[name] = {
            "branch": env.branch,
            "target": env.target.kind,
            "mode": env.mode,
            "approval": env.approval.before if env.approval else None,
            "release": release.number if release else None,
            "commit": release.commit if release else None,
            "services": services,
            "last_run": recent[0].as_dict() if recent else None,
            "active_runs": [r.id for r in recent if r.state in _WAITING],
            "serving": url is not None,
        }
    return out
