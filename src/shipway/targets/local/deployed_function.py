"""A function as a local release keeps it (release.json): its code, environment, routes
with their authorizers and `integration: lambda` mapping, and the events the local runtime
feeds it (schedules, EventBridge rules, WebSockets, queues, topics, buckets, streams)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from shipway.config.dotenv import is_secret_key
from shipway.masking import MASK, Masker
from shipway.model import Event, Function, HttpRoute, ServiceDefinition
from shipway.targets.local.authorizer_config import Spec
from shipway.targets.local.eventbus import bus_schedules
from shipway.targets.local.lambda_integration import integration_of
from shipway.targets.local.wsevents import websocket_route

__all__ = ["DeployedFunction", "reserved_of"]


def _reserved(value: Any) -> int | None:
    """`reservedConcurrency` as a count of workers (validate checks the file's value)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _existing(event: Event) -> bool:
    """`s3: {existing: true}`: a bucket outside the stack (notes.py says what of it)."""
    return isinstance(event.config, dict) and bool(event.config.get("existing"))


def _integrations(fn: Function) -> list[dict[str, Any] | None]:
    """One `integration: lambda` mapping (or None) per route of `fn`: its routes are its
    `http` / `httpApi` events, in order."""
    events = [e for e in fn.events if e.type in ("http", "httpApi")]
    if len(events) != len(fn.routes):  # routes given without their events (built in code)
        return [None] * len(fn.routes)
    return [integration_of(e.config) if e.type == "http" else None for e in events]


def _padded(authorizers: Sequence[Spec | None], count: int) -> list[Spec | None]:
    """One authorizer (or None) per route: none given means open routes."""
    return [*authorizers, *[None] * (count - len(authorizers))]


def reserved_of(definition: ServiceDefinition, name: str) -> int | None:
    functions = definition.resolved.get("functions")
    doc = functions.get(name) if isinstance(functions, dict) else None
    return _reserved(doc.get("reservedConcurrency")) if isinstance(doc, dict) else None


@dataclass(frozen=True)
class DeployedFunction:
    name: str
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    environment: dict[str, str] = field(default_factory=dict)
    routes: list[dict[str, Any]] = field(default_factory=list)  # {kind, method, path}
    schedules: list[Any] = field(default_factory=list)  # the `schedule` events' config
    secret_keys: tuple[str, ...] = ()  # environment keys whose values are secret
    reserved_concurrency: int | None = None  # `reservedConcurrency`: caps its warm workers
    layers: tuple[str, ...] = ()  # its layers the release holds, as `service/layer` (layers.py)
    event_rules: list[Any] = field(default_factory=list)  # the `eventBridge` events' config
    # the `websocket` events: {route, authorizer?, identity_source?, response?} (wsevents.py)
    websockets: list[dict[str, Any]] = field(default_factory=list)
    sqs: list[Any] = field(default_factory=list)  # the `sqs` events' config (sqs_source.py)
    sns: list[Any] = field(default_factory=list)  # the `sns` events' config (sqs_source.py)
    s3: list[Any] = field(default_factory=list)  # the `s3` events' config (sqs_source.py)
    streams: list[Any] = field(default_factory=list)  # the `stream` events' (stream_source.py)

    @property
    def masker(self) -> Masker:
        """Masks this function's secret values (in its logs and error documents)."""
        return Masker(self.environment[k] for k in self.secret_keys if k in self.environment)

    @property
    def http_routes(self) -> list[HttpRoute]:
        return [
            HttpRoute(
                kind="httpApi" if r["kind"] == "httpApi" else "http",
                method=r["method"],
                path=r["path"],
            )
            for r in self.routes
        ]

    @property
    def route_integrations(self) -> list[dict[str, Any] | None]:
        """Each route's `integration: lambda` mapping (lambda_integration.py), or None."""
        return [r.get("integration") for r in self.routes]

    @property
    def route_authorizers(self) -> list[Spec | None]:
        """Each route's authorizer (authorizer_config.py), in the order of `http_routes`."""
        return [r.get("authorizer") for r in self.routes]

    @classmethod
    def from_function(
        cls,
        fn: Function,
        secrets: Collection[str] = (),
        reserved: int | None = None,
        authorizers: Sequence[Spec | None] = (),
        layers: tuple[str, ...] = (),
    ) -> DeployedFunction:
        """`secrets`: the secret values of the environment (a variable holding one is
        secret, whatever its name)."""
        schedules = [_jsonable(e.config) for e in fn.events if e.type == "schedule"]
        event_rules = [_jsonable(e.config) for e in fn.events if e.type == "eventBridge"]
        schedules += bus_schedules(event_rules)  # an eventBridge `schedule` fires as one
        environment = {str(k): str(v) for k, v in fn.environment.items()}
        mask = Masker(secrets)
        return cls(
            name=fn.name,
            handler=fn.handler,
            runtime=fn.runtime,
            timeout=int(fn.timeout),
            memory_size=int(fn.memory_size),
            environment=environment,
            routes=[
                {"kind": r.kind, "method": r.method, "path": r.path}
                | ({"authorizer": a} if a is not None else {})
                | ({"integration": i} if i is not None else {})
                for r, a, i in zip(
                    fn.routes,
                    _padded(authorizers, len(fn.routes)),
                    _integrations(fn),
                    strict=True,
                )
            ],
            schedules=schedules,
            secret_keys=tuple(
                sorted(k for k, v in environment.items() if is_secret_key(k) or mask(v) != v)
            ),
            reserved_concurrency=reserved,
            layers=layers,
            event_rules=event_rules,
            websockets=[websocket_route(e.config) for e in fn.events if e.type == "websocket"],
            sqs=[_jsonable(e.config) for e in fn.events if e.type == "sqs"],
            sns=[_jsonable(e.config) for e in fn.events if e.type == "sns"],
            s3=[_jsonable(e.config) for e in fn.events if e.type == "s3" and not _existing(e)],
            streams=[_jsonable(e.config) for e in fn.events if e.type == "stream"],
        )

    def to_dict(self, reveal: bool = False) -> dict[str, Any]:
        """The function as plain data; secret values as `***` unless `reveal`."""
        environment = dict(self.environment)
        if not reveal:
            environment.update({k: MASK for k in self.secret_keys if k in environment})
        out = {
            "name": self.name,
            "handler": self.handler,
            "runtime": self.runtime,
            "timeout": self.timeout,
            "memory_size": self.memory_size,
            "environment": environment,
            "routes": [dict(r) for r in self.routes],
            "schedules": list(self.schedules),
            "secret_keys": list(self.secret_keys),
        } | ({} if self.reserved_concurrency is None else {"reserved": self.reserved_concurrency})
        out |= {"layers": list(self.layers)} if self.layers else {}
        out |= {"websockets": [dict(w) for w in self.websockets]} if self.websockets else {}
        out |= {"sqs": list(self.sqs)} if self.sqs else {}
        out |= {"sns": list(self.sns)} if self.sns else {}
        out |= {"s3": list(self.s3)} if self.s3 else {}
        out |= {"stream": list(self.streams)} if self.streams else {}
        return out | ({"eventBridge": list(self.event_rules)} if self.event_rules else {})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeployedFunction:
        return cls(
            name=str(d["name"]),
            handler=str(d["handler"]),
            runtime=str(d["runtime"]),
            timeout=int(d["timeout"]),
            memory_size=int(d["memory_size"]),
            environment={str(k): str(v) for k, v in d.get("environment", {}).items()},
            routes=[
                {"kind": str(r["kind"]), "method": str(r["method"]), "path": str(r["path"])}
                | ({"authorizer": dict(r["authorizer"])} if r.get("authorizer") else {})
                | ({"integration": dict(r["integration"])} if r.get("integration") else {})
                for r in d.get("routes", [])
            ],
            schedules=list(d.get("schedules", [])),
            secret_keys=tuple(str(k) for k in d.get("secret_keys", [])),
            reserved_concurrency=_reserved(d.get("reserved")),
            layers=tuple(str(x) for x in d.get("layers", [])),
            event_rules=list(d.get("eventBridge", [])),
            websockets=[dict(w) for w in d.get("websockets", [])],
            sqs=list(d.get("sqs", [])),
            sns=list(d.get("sns", [])),
            s3=list(d.get("s3", [])),
            streams=list(d.get("stream", [])),
        )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
