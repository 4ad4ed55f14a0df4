"""The `sqs` events of each local environment's current release, fed by the queues of the
local AWS emulator while `shipway serve` runs — as Lambda's event source mapping does.

* the queue: the event's `arn` — an ARN (its name), `Fn::GetAtt: [Queue, Arn]` / `Ref` of a
  queue of the service's own stack, or a sibling's output (`${cf:…}`) — looked up on the
  emulator; one it cannot find is logged and looked for again later;
* a batch: up to `batchSize` messages (default 10), waiting up to `maximumBatchingWindow`
  seconds for more once the first arrived; one batch per event in flight at a time;
* the function gets Lambda's SQS event (`Records`, with `messageId`, `receiptHandle`,
  `body`, `attributes`, `messageAttributes`, `md5OfBody`, `eventSource`,
  `eventSourceARN`, `awsRegion`); when it succeeds the batch is deleted, when it fails
  nothing is (the messages come back after the queue's visibility timeout, and its
  redrive policy moves them on as AWS does); with `functionResponseType:
  ReportBatchItemFailures` the `batchItemFailures` it returns stay and the rest go — an
  answer that names a message not in the batch fails the whole batch, as on AWS;
* `enabled: false` is not polled. Each batch is a `[SQS]` line in the service's log.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import threading
import time
import traceback
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipway.errors import ShipwayError
from shipway.targets.local.emulator import ACCOUNT, EmulatorAccess, emulator_client
from shipway.targets.local.gateway import Gateway
from shipway.targets.local.releases import ReleaseManifest
from shipway.targets.local.stack_outputs import substitute
from shipway.targets.local.stream_source import (
    lambda_records,
    reported_checkpoint,
    stream_batch_size,
    stream_config,
    table_of,
)
from shipway.targets.local.workers import FunctionSpec, append_log

__all__ = ["SqsPoller", "s3_event", "sns_event", "sqs_event"]

POLL_S = 0.25  # how often an idle queue is looked at
_DEFAULT_BATCH = 10
_ASYNC_TRIES = 3  # an asynchronous invocation (SNS, S3) and Lambda's two retries


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


def _config(raw: Any) -> dict[str, Any]:
    return dict(raw) if isinstance(raw, dict) else {"arn": raw}


def _s3_config(raw: Any) -> dict[str, Any]:
    """An `s3` event as `{bucket, event?, rules?}`."""
    return dict(raw) if isinstance(raw, dict) else {"bucket": raw}


def _sns_config(raw: Any) -> dict[str, Any]:
    """An `sns` event as `{arn | topicName, filterPolicy?, filterPolicyScope?}`."""
    if isinstance(raw, dict):
        return dict(raw)
    text = str(raw)
    return {"arn": text} if text.startswith("arn:") else {"topicName": text}


class SqsPoller:
    def __init__(self, gateway: Gateway, poll_interval: float = POLL_S) -> None:
        self.gateway = gateway
        self.state_dir: Path = gateway.state_dir
        self.poll_interval = poll_interval
        self._releases: dict[str, Path | None] = {}
        self._sources: dict[str, list[Source]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="shipway-sqs", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._wake.is_set():
            try:
                self.tick()
            except Exception:  # a bug must not silently end polling
                sys.stderr.write(f"shipway: sqs poller failure\n{traceback.format_exc()}")
            self._wake.wait(self.poll_interval)

    def tick(self) -> None:
        """Pick up release changes; start a batch for each idle event whose queue has
        messages."""
        endpoint = EmulatorAccess(self.state_dir).served()
        self._refresh()
        if endpoint is None:
            return
        for sources in list(self._sources.values()):
            for source in sources:
                with self._lock:
                    if source.busy:
                        continue
                if source.url is None and not self._locate(endpoint, source):
                    continue
                assert source.url is not None
                if source.kind == "stream":
                    self._poll_stream(endpoint, source)
                    continue
                try:
                    first = emulator_client(endpoint, source.spec.region).receive_messages(
                        source.url, source.batch_size
                    )
                except ShipwayError as exc:
                    self._warn(source, f"cannot read the queue: {exc}")
                    source.url = None  # looked for again: the stack may have been replaced
                    continue
                if not first:
                    continue
                with self._lock:
                    source.busy = True
                threading.Thread(
                    target=self._batch,
                    args=(endpoint, source, first),
                    name=f"shipway-sqs-{source.spec.service}-{source.spec.function.name}",
                    daemon=True,
                ).start()

    # ------------------------------------------------------------------ releases

    def _refresh(self) -> None:
        try:
            envs = sorted(p.name for p in (self.state_dir / "envs").iterdir() if p.is_dir())
        except OSError:
            envs = []
        for env in [e for e in self._sources if e not in envs]:
            del self._sources[env]
            self._releases.pop(env, None)
        for env in envs:
            try:
                found = self.gateway.current_release(env)
            except (ShipwayError, OSError):
                found = None
            release_dir = found[0] if found else None
            if env in self._releases and self._releases[env] == release_dir:
                continue
            self._releases[env] = release_dir
            self._sources[env] = [] if found is None else self._load(env, *found)

    def _load(self, env: str, release_dir: Path, manifest: ReleaseManifest) -> list[Source]:
        sources = []
        for sname, svc in sorted(manifest.services.items()):
            for fname, fn in sorted(svc.functions.items()):
                stack = f"{sname}-{svc.stage or env}"
                events = [("sqs", i, _config(raw)) for i, raw in enumerate(fn.sqs)]
                events += [("sns", i, _sns_config(raw)) for i, raw in enumerate(fn.sns)]
                events += [("s3", i, _s3_config(raw)) for i, raw in enumerate(fn.s3)]
                events += [("stream", i, stream_config(raw)) for i, raw in enumerate(fn.streams)]
                for kind, index, config in events:
                    spec = self.gateway.function_spec(env, release_dir, manifest, sname, fname)
                    if kind in ("sqs", "stream") and config.get("enabled") is False:
                        tag = kind.upper()
                        append_log(spec, f"[{tag}] {fname} event {index}: disabled, not polled")
                        continue
                    key: SourceKey = (env, spec.key, index, kind)
                    sources.append(Source(key, spec, stack, config, kind))
        return sources

    # ------------------------------------------------------------------ the queue

    def _locate(self, endpoint: str, source: Source) -> bool:
        if source.kind == "sns":
            return self._subscribe(endpoint, source)
        if source.kind == "s3":
            return self._notified(endpoint, source)
        if source.kind == "stream":
            return self._stream(endpoint, source)
        client = emulator_client(endpoint, source.spec.region)
        try:
            name, region = self._queue_name(endpoint, source)
            url = client.queue_url(name, region) if name else None
        except ShipwayError as exc:
            self._warn(source, f"the queue cannot be found on the local AWS emulator: {exc}")
            return False
        if url is None:
            self._warn(source, f"no queue `{name}` on the local AWS emulator (yet)")
            return False
        source.url = url
        source.arn = f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"
        return True

    def _subscribe(self, endpoint: str, source: Source) -> bool:
        """A queue of Shipway's own, subscribed to the event's topic (with its filter
        policy): the topic's messages for this function wait there."""
        region = source.spec.region
        client = emulator_client(endpoint, region)
        try:
            topic = self._topic_arn(endpoint, source)
            digest = hashlib.sha256(repr(source.key).encode()).hexdigest()[:16]
            url, queue_arn = client.ensure_queue(f"shipway-sns-{digest}", region)
            attributes: dict[str, str] = {}
            if source.config.get("filterPolicy") is not None:
                attributes["FilterPolicy"] = json.dumps(source.config["filterPolicy"])
            if source.config.get("filterPolicyScope") is not None:
                attributes["FilterPolicyScope"] = str(source.config["filterPolicyScope"])
            subscription = client.subscribe_queue(topic, queue_arn, attributes, region)
        except ShipwayError as exc:
            self._warn(source, f"the topic cannot be found on the local AWS emulator: {exc}")
            return False
        if subscription is None:
            self._warn(source, f"no topic `{topic}` on the local AWS emulator (yet)")
            return False
        source.url, source.arn, source.subscription = url, topic, subscription
        return True

    def _stream(self, endpoint: str, source: Source) -> bool:
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
            self._warn(source, f"the stream cannot be read on the local AWS emulator: {exc}")
            return False
        if iterator is None:
            return False
        source.url, source.arn = iterator, stream
        return True

    def _poll_stream(self, endpoint: str, source: Source) -> None:
        client = emulator_client(endpoint, source.spec.region)
        assert source.url is not None
        try:
            records, after = client.stream_records(source.url, stream_batch_size(source.config))
        except ShipwayError as exc:
            self._warn(source, f"cannot read the stream: {exc}")
            source.url = None
            return
        if not records:
            source.url = after or source.url
            return
        with self._lock:
            source.busy = True
        threading.Thread(
            target=self._stream_batch,
            args=(client, source, records, after),
            name=f"shipway-stream-{source.spec.service}-{source.spec.function.name}",
            daemon=True,
        ).start()

    def _stream_batch(
        self, client: Any, source: Source, records: list[dict[str, Any]], after: str | None
    ) -> None:
        """One batch of stream records to the function; where the stream goes on from."""
        spec = source.spec
        label = f"{spec.function.name} {len(records)} record(s) from {source.arn}"
        try:
            event = lambda_records(records, source.arn, spec.region)
            try:
                result = self.gateway.workers.invoke(spec, event)
                error = None if result.ok else f"{result.error_type}: {result.error_message}"
                answer = result.result if result.ok else None
            except ShipwayError as e:
                error, answer = str(e), None
            checkpoint = None
            if error is None and source.partial:
                checkpoint = reported_checkpoint(answer, records)
                if checkpoint is False:
                    error = "`batchItemFailures` names no record of the batch"
            if error is None and checkpoint is None:
                source.url, source.retries = after or source.url, 0
                append_log(spec, f"[STREAM] {label}: ok")
                return
            if error is None and isinstance(checkpoint, str):  # go on from the first failed
                source.url = client.shard_iterator(
                    source.arn, "AT_SEQUENCE_NUMBER", checkpoint, spec.region
                )
                source.retries = 0
                append_log(spec, f"[STREAM] {label}: ok, again from record {checkpoint}")
                return
            source.retries += 1
            limit = source.config.get("maximumRetryAttempts")
            if isinstance(limit, int) and limit >= 0 and source.retries > limit:
                source.url, source.retries = after or source.url, 0
                append_log(
                    spec, f"[STREAM] {label}: error ({error}); skipped after {limit} retries"
                )
                return
            append_log(spec, f"[STREAM] {label}: error ({error}); handed over again")
            self._wake.wait(min(2.0 ** min(source.retries, 4) / 4, 4.0))  # as AWS backs off
        except Exception:
            append_log(spec, f"[STREAM] local runtime failure\n{traceback.format_exc()}")
        finally:
            with self._lock:
                source.busy = False

    def _notified(self, endpoint: str, source: Source) -> bool:
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
            self._warn(source, f"the bucket cannot be found on the local AWS emulator: {exc}")
            return False
        if not found:
            self._warn(source, f"no bucket `{bucket}` on the local AWS emulator (yet)")
            return False
        source.url, source.arn = url, f"arn:aws:s3:::{bucket}"
        return True

    def _topic_arn(self, endpoint: str, source: Source) -> str:
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

    def _queue_name(self, endpoint: str, source: Source) -> tuple[str | None, str]:
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

    def _warn(self, source: Source, message: str) -> None:
        if message not in source.warned:  # once per problem, not once per poll
            source.warned.add(message)
            append_log(source.spec, f"[SQS] {source.spec.function.name}: {message}")

    # ------------------------------------------------------------------ a batch

    def _batch(self, endpoint: str, source: Source, messages: list[dict[str, Any]]) -> None:
        try:
            client = emulator_client(endpoint, source.spec.region)
            assert source.url is not None
            deadline = time.monotonic() + source.window_s
            while len(messages) < source.batch_size and time.monotonic() < deadline:
                more = client.receive_messages(source.url, source.batch_size - len(messages))
                if more:
                    messages = _merged(messages, more)
                else:
                    self._wake.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            self._invoke(client, source, messages)
        except Exception:
            append_log(source.spec, f"[SQS] local runtime failure\n{traceback.format_exc()}")
        finally:
            with self._lock:
                source.busy = False

    def _invoke(self, client: Any, source: Source, messages: list[dict[str, Any]]) -> None:
        if source.kind != "sqs":
            for message in messages:
                self._notify(client, source, message)
            return
        spec = source.spec
        label = f"{spec.function.name} {len(messages)} message(s) from {source.arn}"
        event = sqs_event(messages, source.arn, spec.region)
        try:
            result = self.gateway.workers.invoke(spec, event)
        except ShipwayError as e:
            append_log(spec, f"[SQS] {label}: error: {e}; left on the queue")
            return
        took = f"{result.duration_ms:.0f} ms"
        if not result.ok:
            why = f"{result.error_type}: {result.error_message}"
            append_log(
                spec,
                f"[SQS] {label}: error in {took} ({why}); left on the queue, to come back "
                "after its visibility timeout",
            )
            return
        failed = _reported_failures(result.result, messages) if source.partial else set()
        if failed is None:
            append_log(
                spec,
                f"[SQS] {label}: ok in {took}, but `batchItemFailures` names no message of "
                "the batch: the whole batch failed and is left on the queue",
            )
            return
        done = [m["ReceiptHandle"] for m in messages if m["MessageId"] not in failed]
        if done:
            client.delete_messages(source.url, done)
        kept = f", {len(failed)} reported failed and left on the queue" if failed else ""
        append_log(spec, f"[SQS] {label}: ok in {took}, {len(done)} deleted{kept}")

    def _notify(self, client: Any, source: Source, message: dict[str, Any]) -> None:
        """One SNS message or S3 event to the function. Both invoke asynchronously, so a
        failure is tried again (after the queue's visibility timeout) and given up after
        three tries, as Lambda's two retries give up."""
        spec = source.spec
        tag = f"[{source.kind.upper()}]"
        label = f"{spec.function.name} a message from {source.arn}"
        try:
            if source.kind == "sns":
                event = sns_event(message, source.subscription)
            else:
                event = s3_event(message)
                label = f"{spec.function.name} {_s3_label(event)}"
        except ValueError:
            client.delete_messages(source.url, [message["ReceiptHandle"]])  # e.g. a test event
            return
        took = ""
        try:
            result = self.gateway.workers.invoke(spec, event)
            error = None if result.ok else f"{result.error_type}: {result.error_message}"
            took = f" in {result.duration_ms:.0f} ms"
        except ShipwayError as e:
            error = str(e)
        if error is None:
            client.delete_messages(source.url, [message["ReceiptHandle"]])
            append_log(spec, f"{tag} {label}: ok{took}")
            return
        tries = int((message.get("Attributes") or {}).get("ApproximateReceiveCount", "1"))
        if tries >= _ASYNC_TRIES:
            client.delete_messages(source.url, [message["ReceiptHandle"]])
            append_log(spec, f"{tag} {label}: error ({error}); given up after {tries} tries")
        else:
            append_log(spec, f"{tag} {label}: error ({error}); tried again later")


def s3_event(message: dict[str, Any]) -> dict[str, Any]:
    """Lambda's event for one S3 notification: the event S3 sent (its test event, sent when
    the notification is set, is not one)."""
    event = json.loads(message.get("Body") or "null")
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        raise ValueError("not an S3 event")
    for record in event["Records"]:
        found = ((record.get("s3") or {}).get("object") or {}) if isinstance(record, dict) else {}
        if isinstance(found.get("key"), str):
            # S3 form-encodes the key but keeps its `/` (`photos/my cat.jpg` is
            # `photos/my+cat.jpg`); the emulator encodes the `/` too
            found["key"] = urllib.parse.quote_plus(urllib.parse.unquote_plus(found["key"]), "/")
    return event


def _s3_label(event: dict[str, Any]) -> str:
    records = event.get("Records") or [{}]
    first = records[0] if isinstance(records[0], dict) else {}
    s3 = first.get("s3") or {}
    key = (s3.get("object") or {}).get("key", "")
    return (
        f"{first.get('eventName', 'event')} s3://{(s3.get('bucket') or {}).get('name', '')}/{key}"
    )


def sns_event(message: dict[str, Any], subscription: str) -> dict[str, Any]:
    """Lambda's event for one SNS notification (as its SQS delivery carries it)."""
    note = json.loads(message.get("Body") or "null")
    if not isinstance(note, dict) or note.get("Type") != "Notification":
        raise ValueError("not an SNS notification")
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": note.get("MessageId", ""),
                    "TopicArn": note.get("TopicArn", ""),
                    "Subject": note.get("Subject"),
                    "Message": note.get("Message", ""),
                    "Timestamp": note.get("Timestamp", ""),
                    "SignatureVersion": note.get("SignatureVersion", "1"),
                    "Signature": note.get("Signature", ""),
                    "SigningCertUrl": note.get("SigningCertURL", ""),
                    "UnsubscribeUrl": note.get("UnsubscribeURL", ""),
                    "MessageAttributes": dict(note.get("MessageAttributes") or {}),
                },
            }
        ]
    }


def _merged(batch: list[dict[str, Any]], more: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`batch` with `more`: a message seen again (its visibility timeout ran out while the
    batch filled) is kept once, with its newer receipt handle (the older one is void)."""
    by_id = {m["MessageId"]: m for m in batch}
    for message in more:
        by_id[message["MessageId"]] = message
    return list(by_id.values())


def _reported_failures(result: Any, messages: list[dict[str, Any]]) -> set[str] | None:
    """The message IDs a ReportBatchItemFailures answer names; None when it is invalid."""
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return set()
    ids = {m["MessageId"] for m in messages}
    failed = set()
    for item in result["batchItemFailures"]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in ids:
            return None
        failed.add(str(identifier))
    return failed


def sqs_event(messages: list[dict[str, Any]], arn: str, region: str) -> dict[str, Any]:
    """Lambda's event for a batch of SQS messages (as ReceiveMessage gave them)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m.get("Body", ""),
                "attributes": dict(m.get("Attributes") or {}),
                "messageAttributes": {
                    name: _attribute(value)
                    for name, value in (m.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        binary = value["BinaryValue"]
        out["binaryValue"] = (
            base64.b64encode(binary).decode() if isinstance(binary, bytes) else str(binary)
        )
    return out
