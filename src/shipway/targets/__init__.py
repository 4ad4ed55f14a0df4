"""Where releases go: `select_target` picks the environment's target behind the one
protocol (targets/protocol.py). boto3 is imported only for aws targets."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from shipway import model

if TYPE_CHECKING:
    from shipway.targets.protocol import EventSink, Prepare, Target

__all__ = ["select_target"]


def select_target(
    environment: model.Environment,
    state_dir: Path,
    *,
    secrets: Collection[str] = (),
    on_event: EventSink | None = None,
    prepare: Prepare | None = None,
) -> Target:
    """The environment's target: its AWS account and region, or this machine's runtime.
    `on_event(service, stack_event)` and `prepare` (see targets.aws.release) are used by
    aws targets only."""
    if isinstance(environment.target, model.AwsTarget):
        from shipway.targets.aws.target import AwsTarget

        return AwsTarget(environment.target, on_event=on_event, prepare=prepare)
    from shipway.targets.local.adapter import LocalReleases
    from shipway.targets.local.target import LocalTarget

    return LocalReleases(LocalTarget(state_dir, secrets))
