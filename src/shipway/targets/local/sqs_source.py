"""The event sources of each local environment's current release — `sqs`, `sns`, `s3`
and `stream` events — fed by the local AWS emulator while `shipway serve` runs, as
Lambda's event source mappings and asynchronous invocations feed them (where each
comes from: source_locations.py; the events: source_events.py, stream_source.py).

For `sqs` events:

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

`sns` and `s3` events are asynchronous invocations: one message at a time, tried again
after a failure and given up after three tries. `stream` events: stream_source.py.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from shipway.errors import ShipwayError
from shipway.targets.local.emulator import EmulatorAccess, emulator_client
from shipway.targets.local.gateway import Gateway
from shipway.targets.local.release_watch import ReleaseWatch
from shipway.targets.local.releases import ReleaseManifest
from shipway.targets.local.source_events import (
    merged,
    reported_failures,
    s3_event,
    s3_label,
    sns_event,
    sqs_event,
)
from shipway.targets.local.source_locations import (
    Source,
    SourceKey,
    locate,
    s3_config,
    sns_config,
    sqs_config,
)
from shipway.targets.local.stream_source import (
    lambda_records,
    reported_checkpoint,
    stream_batch_size,
    stream_config,
)
from shipway.targets.local.workers import append_log

__all__ = ["SqsPoller"]

POLL_S = 0.25  # how often an idle queue is looked at
_ASYNC_TRIES = 3  # an asynchronous invocation (SNS, S3) and Lambda's two retries


class SqsPoller:
    def __init__(self, gateway: Gateway, poll_interval: float = POLL_S) -> None:
        self.gateway = gateway
        self.state_dir: Path = gateway.state_dir
        self.poll_interval = poll_interval
        self._watch = ReleaseWatch(gateway)
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
        gone, changed = self._watch.changes()
        for env in gone:
            self._sources.pop(env, None)
        for env, found in changed:
            self._sources[env] = [] if found is None else self._load(env, *found)

    def _load(self, env: str, release_dir: Path, manifest: ReleaseManifest) -> list[Source]:
        sources = []
        for sname, svc in sorted(manifest.services.items()):
            for fname, fn in sorted(svc.functions.items()):
                stack = f"{sname}-{svc.stage or env}"
                events = [("sqs", i, sqs_config(raw)) for i, raw in enumerate(fn.sqs)]
                events += [("sns", i, sns_config(raw)) for i, raw in enumerate(fn.sns)]
                events += [("s3", i, s3_config(raw)) for i, raw in enumerate(fn.s3)]
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
        try:
            locate(endpoint, source)
        except ShipwayError as exc:
            self._warn(source, str(exc))
            return False
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
                    messages = merged(messages, more)
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
        failed = reported_failures(result.result, messages) if source.partial else set()
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
                label = f"{spec.function.name} {s3_label(event)}"
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
