"""Where an event source's messages come from on the local AWS emulator
(sqs_source.py polls them): the `sqs` event's queue; for `sns` and `s3` events, a queue of
Shipway's own that the topic (with the event's filter policy) or the bucket (with its
`rules`) delivers to; for `stream` events, the table's stream.

The event's `arn` (or `bucket`, `topicName`) is an ARN or name, `Ref` / `Fn::GetAtt` of a
resource of the service's own stack, or a sibling's output (`${cf:…}`, a reference
stack_outputs.py resolves); an ARN's account is the emulator's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from shipway.errors import ShipwayError
from shipway.targets.local.emulator import ACCOUNT, emulator_client
from shipway.targets.local.stack_outputs import substitute
from shipway.targets.local.stream_source import table_of
from shipway.targets.local.workers import FunctionSpec

__all__ = ["Source", "SourceKey", "locate", "s3_config", "sns_config", "sqs_config"]

_DEFAULT_BATCH = 10

#: (env, the function's spec key, the event's index, `sqs` or `sns`)
SourceKey = tuple[str, tuple[str, str, str, str], int, str]


@dataclass
class Source:
    """One `sqs` (or `sns`) event of a function of a current release."""

    key: SourceKey
    spec: FunctionSpec
    stack: str  # the service's stack on the emulator
    config: dict[str, Any]
    kind: str = "sqs"  # or "sns" / "s3": the topic or bucket delivers to a queue of Shipway's
    url: str | None = None
    arn: str = ""  # the queue's ARN (sqs), the topic's (sns)
    subscription: str = ""  # sns: the queue's subscription of the topic
    retries: int = 0  # stream: how often the batch at `url` (its iterator) failed
    busy: bool = False
    warned: set[str] = field(default_factory=set)

    @property
    def batch_size(self) -> int:
        if self.kind != "sqs":
            return 1  # SNS and S3 invoke a function with one message at a time
        value = self.config.get("batchSize")
        return value if isinstance(value, int) and value > 0 else _DEFAULT_BATCH

    @property
    def window_s(self) -> float:
        if self.kind != "sqs":
            return 0.0
        value = self.config.get("maximumBatchingWindow")
        return float(value) if isinstance(value, int | float) and value > 0 else 0.0

    @property
    def partial(self) -> bool:
        return self.config.get("functionResponseType") == "ReportBatchItemFailures"


def sqs_config(raw: Any) -> dict[str, Any]:
    return dict(raw) if isinstance(raw, dict) else {"arn": raw}


def s3_config(raw: Any) -> dict[str, Any]:
    """An `s3` event as `{bucket, event?, rules?}`."""
    return dict(raw) if isinstance(raw, dict) else {"bucket": raw}


def sns_config(raw: Any) -> dict[str, Any]:
    """An `sns` event as `{arn | topicName, filterPolicy?, filterPolicyScope?}`."""
    if isinstance(raw, dict):
        return dict(raw)
    text = str(raw)
    return {"arn": text} if text.startswith("arn:") else {"topicName": text}


def locate(endpoint: str, source: Source) -> None:
    """Finds the event's queue, topic, bucket or stream on the emulator and sets the
    source's `url` (where its messages wait, or the stream's iterator) and `arn`; a
    ShipwayError says what is missing."""
    if source.kind == "sns":
        return _subscribe(endpoint, source)
    if source.kind == "s3":
        return _notified(endpoint, source)
    if source.kind == "stream":
        return _stream(endpoint, source)
    client = emulator_client(endpoint, source.spec.region)
    try:
        name, region = _queue_name(endpoint, source)
        url = client.queue_url(name, region) if name else None
    except ShipwayError as exc:
        raise ShipwayError(f"the queue cannot be found on the local AWS emulator: {exc}") from None
    if url is None:
        raise ShipwayError(f"no queue `{name}` on the local AWS emulator (yet)")
    source.url = url
    source.arn = f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"


def _subscribe(endpoint: str, source: Source) -> None:
    """A queue of Shipway's own, subscribed to the event's topic (with its filter
    policy): the topic's messages for this function wait there."""
    region = source.spec.region
    client = emulator_client(endpoint, region)
    try:
        topic = _topic_arn(endpoint, source)
        digest = hashlib.sha256(repr(source.key).encode()).hexdigest()[:16]
        url, queue_arn = client.ensure_queue(f"shipway-sns-{digest}", region)
        attributes: dict[str, str] = {}
        if source.config.get("filterPolicy") is not None:
            attributes["FilterPolicy"] = json.dumps(source.config["filterPolicy"])
        if source.config.get("filterPolicyScope") is not None:
            attributes["FilterPolicyScope"] = str(source.config["filterPolicyScope"])
        subscription = client.subscribe_queue(topic, queue_arn, attributes, region)
    except ShipwayError as exc:
        raise ShipwayError(f"the topic cannot be found on the local AWS emulator: {exc}") from None
    if subscription is None:
        raise ShipwayError(f"no topic `{topic}` on the local AWS emulator (yet)")
    source.url, source.arn, source.subscription = url, topic, subscription


def _stream(endpoint: str, source: Source) -> None:
    """An iterator of the table's stream at the event's `startingPosition`."""
    region = source.spec.region
    client = emulator_client(endpoint, region)
    try:
        logical, table = table_of(source.config)
        if logical is not None:
            table = client.stack_resource_id(source.stack, logical, region)
        stream = client.table_stream_arn(table, region) if table else None
        if stream is None:
            raise ShipwayError(f"table `{table or logical}` has no stream there (yet)")
        position = str(source.config.get("startingPosition") or "TRIM_HORIZON")
        iterator = client.shard_iterator(stream, position, region=region)
    except ShipwayError as exc:
        raise ShipwayError(f"the stream cannot be read on the local AWS emulator: {exc}") from None
    if iterator is None:
        raise ShipwayError(f"the stream `{stream}` has no shard on the local AWS emulator (yet)")
    source.url, source.arn = iterator, stream


def _notified(endpoint: str, source: Source) -> None:
    """A queue of Shipway's own among the bucket's notifications (the event's `event`
    and `rules`): the bucket's events for this function wait there."""
    region = source.spec.region
    client = emulator_client(endpoint, region)
    bucket = source.config.get("bucket")
    try:
        if isinstance(bucket, dict) and "Ref" in bucket:
            bucket = client.stack_resource_id(source.stack, str(bucket["Ref"]), region)
        if not isinstance(bucket, str) or not bucket:
            raise ShipwayError("the event names no bucket the local runtime reads")
        digest = hashlib.sha256(repr(source.key).encode()).hexdigest()[:16]
        url, queue_arn = client.ensure_queue(f"shipway-s3-{digest}", region)
        queue: dict[str, Any] = {
            "QueueArn": queue_arn,
            "Events": [str(source.config.get("event") or "s3:ObjectCreated:*")],
        }
        rules = [
            {"Name": name, "Value": str(value)}
            for rule in source.config.get("rules") or []
            if isinstance(rule, dict)
            for name, value in rule.items()
            if name in ("prefix", "suffix")
        ]
        if rules:
            queue["Filter"] = {"Key": {"FilterRules": rules}}
        found = client.notify_queue(bucket, f"shipway-{digest}", queue, region)
    except ShipwayError as exc:
        raise ShipwayError(f"the bucket cannot be found on the local AWS emulator: {exc}") from None
    if not found:
        raise ShipwayError(f"no bucket `{bucket}` on the local AWS emulator (yet)")
    source.url, source.arn = url, f"arn:aws:s3:::{bucket}"


def _topic_arn(endpoint: str, source: Source) -> str:
    region = source.spec.region
    arn = source.config.get("arn")
    if isinstance(arn, dict) and ("Ref" in arn or "Fn::GetAtt" in arn):
        target = arn.get("Ref") or arn["Fn::GetAtt"]
        logical = target.split(".", 1)[0] if isinstance(target, str) else str(target[0])
        physical = emulator_client(endpoint, region).stack_resource_id(
            source.stack, logical, region
        )
        if not physical:
            raise ShipwayError(f"`{logical}` is not in stack `{source.stack}` (yet)")
        return physical
    if isinstance(arn, str):
        text, missing = substitute(
            arn, lambda r, s: emulator_client(endpoint, r).stack_outputs(s, r)
        )
        if missing:
            raise ShipwayError(f"`{missing[0]}` is not on the emulator (yet)")
        parts = text.split(":")
        if len(parts) == 6 and parts[2] == "sns":  # the emulator's account, not AWS's
            return ":".join([*parts[:4], ACCOUNT, parts[5]])
        raise ShipwayError(f"`arn` {text[:120]} is not a topic the local runtime reads")
    name = source.config.get("topicName")
    if not name:
        raise ShipwayError("the event names no topic the local runtime reads")
    return f"arn:aws:sns:{region}:{ACCOUNT}:{name}"


def _queue_name(endpoint: str, source: Source) -> tuple[str | None, str]:
    """(the queue's name, its region) from the event's `arn`."""
    region = source.spec.region
    arn = source.config.get("arn")
    logical = None
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        target = arn["Fn::GetAtt"]
        parts = target.split(".", 1) if isinstance(target, str) else list(target)
        logical = str(parts[0]) if parts else None
    elif isinstance(arn, dict) and "Ref" in arn:
        logical = str(arn["Ref"])
    if logical is not None:
        client = emulator_client(endpoint, region)
        physical = client.stack_resource_id(source.stack, logical, region)
        return (physical.rstrip("/").rsplit("/", 1)[-1] if physical else None), region
    if isinstance(arn, str):
        text, missing = substitute(
            arn, lambda r, s: emulator_client(endpoint, r).stack_outputs(s, r)
        )
        if missing:
            raise ShipwayError(f"`{missing[0]}` is not on the emulator (yet)")
        parts = text.split(":")
        if len(parts) == 6 and parts[2] == "sqs":
            return parts[5], parts[3] or region
    raise ShipwayError(f"`arn` {json.dumps(arn)[:120]} is not a queue the local runtime reads")
