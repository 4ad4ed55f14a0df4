"""The local EventBridge endpoint: `POST /<env>/_events`, EventBridge's `PutEvents` (JSON 1.1).

boto3's `events` client talks to it with `endpoint_url=http://127.0.0.1:PORT/<env>/_events`
(functions of the local runtime get that URL as `AWS_ENDPOINT_URL_EVENTBRIDGE`, which boto3
honours). Each entry becomes an EventBridge event; every enabled pattern rule of the env's
current release on that bus whose pattern matches invokes its function asynchronously (the
answer does not wait for the functions); the outcome goes to the service's log as
`[EVENTBRIDGE] ...` lines. Other EventBridge operations are refused, naming the operation.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
from typing import TYPE_CHECKING, Any

from shipway.errors import ShipwayError
from shipway.targets.local.eventbus import (
    MAX_ENTRIES,
    BusRule,
    bus_name,
    entry_problem,
    envelope,
    parse_bus_rules,
    target_payload,
)
from shipway.targets.local.workers import FunctionSpec, append_log

if TYPE_CHECKING:
    from pathlib import Path

    from shipway.targets.local.gateway import Gateway, GatewayRequest, GatewayResponse
    from shipway.targets.local.releases import ReleaseManifest

__all__ = ["ENDPOINT", "put_events"]

ENDPOINT = "_events"  # /<env>/_events: `_` cannot start a service name
_JSON = [("content-type", "application/x-amz-json-1.1")]
_PENDING: set[asyncio.Task[None]] = set()  # invocations under way (kept from the collector)
_RULES: dict[Path, list[tuple[str, BusRule]]] = {}  # release folder -> (service, rule)


def _answer(status: int, doc: dict[str, Any]) -> GatewayResponse:
    from shipway.targets.local.gateway import GatewayResponse

    return GatewayResponse(status, list(_JSON), json.dumps(doc).encode())


def _refuse(kind: str, message: str) -> GatewayResponse:
    return _answer(400, {"__type": kind, "message": message})


def _rules(release_dir: Path, manifest: ReleaseManifest) -> list[tuple[str, BusRule]]:
    if release_dir not in _RULES:
        rules = []
        for service in manifest.services.values():
            for fn in service.functions.values():
                rules += [(service.name, r) for r in parse_bus_rules(fn.name, fn.event_rules)]
        _RULES[release_dir] = rules
    return _RULES[release_dir]


async def put_events(gateway: Gateway, env: str, req: GatewayRequest) -> GatewayResponse:
    target = next((v for k, v in req.headers if k.lower() == "x-amz-target"), "")
    if req.method.upper() != "POST" or target != "AWSEvents.PutEvents":
        operation = target.rsplit(".", 1)[-1] or f"{req.method.upper()} without X-Amz-Target"
        return _refuse(
            "UnsupportedOperation",
            f"the local runtime's EventBridge endpoint implements PutEvents only, not {operation}",
        )
    try:
        body = json.loads(req.body or b"{}")
    except ValueError:
        return _refuse("SerializationException", "the request body is not JSON")
    entries = body.get("Entries") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_ENTRIES:
        return _refuse("ValidationException", f"Entries must hold 1 to {MAX_ENTRIES} entries")
    try:
        found = gateway.current_release(env)
    except ShipwayError:
        found = None
    if found is None:
        return _refuse("ResourceNotFoundException", f"environment `{env}` has no local release")
    release_dir, manifest = found
    try:
        rules = _rules(release_dir, manifest)
    except ShipwayError as e:
        return _refuse("ValidationException", e.message)
    results: list[dict[str, Any]] = []
    now = time.time()
    for entry in entries:
        problem = entry_problem(entry)
        if problem:
            results.append({"ErrorCode": "InvalidArgument", "ErrorMessage": problem})
            continue
        bus = bus_name(entry.get("EventBusName")) or "default"
        services = {s.name: s for s in manifest.services.values()}
        event = envelope(entry, region=next(iter(services.values())).region, now=now)
        for service_name, rule in rules:
            if not rule.enabled or rule.bus != bus or not rule.matches(event):
                continue
            spec = gateway.function_spec(env, release_dir, manifest, service_name, rule.function)
            service = services[service_name]
            name = rule.rule_name(service.name, service.stage or env)
            payload = target_payload(rule, event, name)
            task = asyncio.ensure_future(_invoke(gateway, spec, payload, f"{name} {event['id']}"))
            _PENDING.add(task)
            task.add_done_callback(_PENDING.discard)
        results.append({"EventId": event["id"]})
    failed = sum(1 for r in results if "ErrorCode" in r)
    return _answer(200, {"FailedEntryCount": failed, "Entries": results})


async def _invoke(gateway: Gateway, spec: FunctionSpec, payload: Any, label: str) -> None:
    try:
        result = await gateway.workers.ainvoke(spec, payload, float(spec.function.timeout))
    except ShipwayError as e:
        outcome = f"error: {spec.mask(str(e))}"
    except Exception:
        outcome = f"error: local runtime failure\n{traceback.format_exc()}"
    else:
        took = f"{result.duration_ms:.0f} ms"
        outcome = (
            f"ok in {took} ({result.request_id})"
            if result.ok
            else f"error in {took} ({result.request_id}): {result.error_type}: "
            f"{result.error_message}"
        )
    append_log(spec, f"[EVENTBRIDGE] {label}: {outcome}\n")
