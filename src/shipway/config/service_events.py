"""A function's `events:` list -> `Event`s, and the HTTP routes of `http` / `httpApi` events.

Every event is kept as written (`Event(kind, config)`) for the synthesizer; the two HTTP
kinds are also normalised into `HttpRoute`s (method upper-cased, `*` -> `ANY`, path with
one leading slash). An event type the Framework's schema does not know is passed over (the
service's verdict warns of it); one written as a bare name (`- alexaSkill`) is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shipway.config.yamlsrc import kind_of
from shipway.model import Event, HttpRoute

__all__ = [
    "EVENTBRIDGE_KEYS",
    "HTTP_METHODS",
    "KNOWN_EVENTS",
    "ErrorFn",
    "KeyPath",
    "read_events",
]

#: A key path in the document, e.g. `("functions", "hello", "events", 0)`.
KeyPath = tuple[str | int, ...]
#: Where problems go: `error(path, message)`.
ErrorFn = Callable[[KeyPath, str], None]

KNOWN_EVENTS = frozenset(
    {
        "http",
        "httpApi",
        "websocket",
        "schedule",
        "sqs",
        "sns",
        "s3",
        "stream",
        "eventBridge",
        "cloudwatchEvent",
        "cloudwatchLog",
        "alb",
        "cognitoUserPool",
        "iot",
        "iotFleetProvisioning",
        "alexaSkill",
        "alexaSmartHome",
        "kafka",
        "msk",
        "activemq",
        "rabbitmq",
        "cloudFront",
    }
)

#: the keys of an `eventBridge` event Shipway implements (synth and the local event bus)
EVENTBRIDGE_KEYS = (
    "eventBus",
    "schedule",
    "name",
    "description",
    "enabled",
    "pattern",
    "input",
    "inputPath",
    "inputTransformer",
    "retryPolicy",
    "deadLetterQueueArn",
)

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})


def read_events(
    base: KeyPath, value: Any, error: ErrorFn
) -> tuple[tuple[Event, ...], tuple[HttpRoute, ...]]:
    if value is None:
        return (), ()
    path: KeyPath = (*base, "events")
    if not isinstance(value, list):
        error(path, f"`events` must be a list, not {kind_of(value)}")
        return (), ()
    events: list[Event] = []
    routes: list[HttpRoute] = []
    for i, item in enumerate(value):
        at: KeyPath = (*path, i)
        if isinstance(item, str) and item in KNOWN_EVENTS:  # `- alexaSkill`
            error(
                at,
                f"the `{item}` event is written as a bare name: an event is a mapping with "
                f"its type as the key and its settings as the value (`- {item}: …`)",
            )
            continue
        if not isinstance(item, dict) or len(item) != 1:
            error(at, "an event must be a mapping with one key, its type (e.g. `http:`)")
            continue
        ((kind, config),) = item.items()
        if kind not in KNOWN_EVENTS:
            continue  # unknown to the Framework's schema: a warning, and the event is ignored
        events.append(Event(kind, config))
        if kind == "http":
            route = _http_route(at, config, error)
        elif kind == "httpApi":
            route = _http_api_route(at, config, error)
        else:
            continue
        if route is not None:
            routes.append(route)
    return tuple(events), tuple(routes)


def _http_route(at: KeyPath, config: Any, error: ErrorFn) -> HttpRoute | None:
    at = (*at, "http")
    method: Any
    path: Any
    if isinstance(config, str):
        parts = config.split()
        if len(parts) != 2:
            error(at, f"`http: {config}` must be `METHOD path`, e.g. `GET users/{{id}}`")
            return None
        method, path = parts
    elif isinstance(config, dict):
        method, path = config.get("method"), config.get("path")
        if not isinstance(path, str):
            error((*at, "path"), "an `http` event needs a `path`")
            return None
        if not isinstance(method, str):
            error((*at, "method"), "an `http` event needs a `method`")
            return None
    else:
        error(at, f"an `http` event must be a string or a mapping, not {kind_of(config)}")
        return None
    method = _method(at, method, error)
    if method is None:
        return None
    return HttpRoute("http", method, _route_path(path))


def _http_api_route(at: KeyPath, config: Any, error: ErrorFn) -> HttpRoute | None:
    at = (*at, "httpApi")
    method: Any
    path: Any
    if isinstance(config, str):
        if config.strip() == "*":
            return HttpRoute("httpApi", "ANY", "*")
        parts = config.split()
        if len(parts) != 2:
            error(at, f"`httpApi: {config}` must be `METHOD /path` or `*`")
            return None
        method, path = parts
    elif isinstance(config, dict):
        method, path = config.get("method", "*"), config.get("path")
        if not isinstance(path, str):
            error((*at, "path"), "an `httpApi` event needs a `path`")
            return None
        if not isinstance(method, str):
            error((*at, "method"), "`method` must be a string")
            return None
    else:
        error(at, f"an `httpApi` event must be a string or a mapping, not {kind_of(config)}")
        return None
    method = _method(at, method, error)
    if method is None:
        return None
    if path.strip() == "*":
        return HttpRoute("httpApi", method, "*")
    return HttpRoute("httpApi", method, _route_path(path))


def _method(at: KeyPath, method: str, error: ErrorFn) -> str | None:
    """`method` upper-cased, `*` as `ANY`; None (reported) if it is not an HTTP method."""
    method = method.upper()
    if method == "*":
        method = "ANY"
    if method not in HTTP_METHODS:
        error(at, f"unknown HTTP method `{method}`")
        return None
    return method


# ------------------------------------------------------------------ package


def _route_path(path: str) -> str:
    path = "/" + path.strip().strip("/")
    return path
