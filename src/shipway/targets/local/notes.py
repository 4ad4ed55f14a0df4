"""What the local runtime says about settings that mean nothing on 127.0.0.1.

They are compiled for AWS (synth) and deployed there; locally each gets a one-line warning
from `validate` rather than being dropped without a word.
"""

from __future__ import annotations

from typing import Any

from shipway.model import ServiceDefinition

__all__ = ["local_notes"]

#: settings of queue and stream events the local poller (sqs_source.py) does not apply
_UNFED_KEYS = (
    "filterPatterns",
    "bisectBatchOnFunctionError",
    "parallelizationFactor",
    "tumblingWindowInSeconds",
)


def _note(key: str, why: str) -> str:
    return f"`{key}`: {why} (no local meaning: the local runtime ignores it)"


def local_notes(definition: ServiceDefinition) -> list[str]:
    resolved = definition.resolved
    provider = resolved.get("provider") or {}
    notes: list[str] = []
    logs = provider.get("logs") if isinstance(provider, dict) else None
    if isinstance(logs, dict):
        for key, value in logs.items():
            if value:
                notes.append(_note(f"provider.logs.{key}", "CloudWatch logging on AWS"))
    tracing = provider.get("tracing") if isinstance(provider, dict) else None
    if isinstance(tracing, dict):
        for key, value in tracing.items():
            if value:
                notes.append(_note(f"provider.tracing.{key}", "AWS X-Ray tracing"))
    elif tracing:  # serverless-plugin-tracing's `provider.tracing: true`
        notes.append(_note("provider.tracing", "AWS X-Ray tracing"))
    for key, section in (("apiGateway", "restApiId"), ("httpApi", "id")):
        config = provider.get(key) if isinstance(provider, dict) else None
        if isinstance(config, dict) and config.get(section):
            notes.append(
                f"`provider.{key}.{section}`: on AWS these routes join an API made "
                "elsewhere; the local runtime serves them at this service's own URL"
            )
    functions: Any = resolved.get("functions") or {}
    for name, spec in functions.items() if isinstance(functions, dict) else ():
        if not isinstance(spec, dict):
            continue
        if spec.get("tracing"):
            notes.append(_note(f"functions.{name}.tracing", "AWS X-Ray tracing"))
        if spec.get("iamRoleStatements"):
            notes.append(
                _note(f"functions.{name}.iamRoleStatements", "an IAM role, enforced on AWS")
            )
        for index, event in enumerate(spec.get("events") or []):
            s3 = event.get("s3") if isinstance(event, dict) else None
            if isinstance(s3, dict) and s3.get("existing"):
                notes.append(
                    f"`functions.{name}.events[{index}].s3.existing`: a bucket outside the "
                    "stack is subscribed on AWS (by the Framework's custom resource); the "
                    "local runtime creates no such bucket and gets no events from it"
                )
            for kind in ("sqs", "stream"):
                source = event.get(kind) if isinstance(event, dict) else None
                for key in _UNFED_KEYS:
                    if isinstance(source, dict) and source.get(key):
                        notes.append(
                            f"`functions.{name}.events[{index}].{kind}.{key}`: the local "
                            "runtime does not apply it (every record is handed over, one "
                            "whole batch at a time)"
                        )
            bus = event.get("eventBridge") if isinstance(event, dict) else None
            if isinstance(bus, dict) and isinstance(bus.get("eventBus"), dict):
                notes.append(
                    f"`functions.{name}.events[{index}].eventBridge.eventBus`: a bus given by "
                    "an intrinsic function has no name locally: the local EventBridge "
                    "endpoint delivers it no events"
                )
    return notes
