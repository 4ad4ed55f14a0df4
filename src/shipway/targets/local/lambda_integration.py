"""`integration: lambda` (API Gateway's non-proxy integration) on the local runtime.

The same request templates, pass-through behaviour and integration responses that
synthesis writes for AWS (config/lambda_integration.py) are applied here:

* request: the template of the request's content type (`application/json` when it gives
  none) is rendered with API Gateway's `$input`, `$context`, `$util` and `$stageVariables`
  (Velocity, by airspeed); the result is the function's event. A content type without a
  template: 415 `Unsupported Media Type` unless `passThrough` lets the body through as is
  (`WHEN_NO_MATCH`, or `WHEN_NO_TEMPLATES` with no templates at all).
* response: a function that succeeded gets the default response (the one whose selection
  pattern is empty); one that failed gets the first response whose pattern matches its
  whole `errorMessage`, else the default — API Gateway answers an unmatched error with that
  response's status (200 by default). The response's `application/json` template is
  rendered with `$input` on the function's result (or error document); without one the
  result is the body, as JSON. Header mappings take `'literal'` values and
  `integration.response.body.<path>`.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import airspeed  # type: ignore[import-untyped]

from shipway.config.lambda_integration import (
    integration_responses,
    pass_through,
    request_templates,
)
from shipway.errors import ShipwayError
from shipway.targets.local.apigw import Reply, json_reply

__all__ = ["integration_of", "lambda_request", "lambda_response"]

JSON = "application/json"


def integration_of(config: Any) -> dict[str, Any] | None:
    """What the local runtime keeps of an `http` event with `integration: lambda`."""
    if not isinstance(config, dict):
        return None
    kind = str(config.get("integration") or "").upper().replace("-", "_")
    if kind not in ("LAMBDA", "AWS"):
        return None
    return {
        "passThrough": pass_through(config),
        "templates": request_templates(config),
        "responses": integration_responses(config, None),
    }


# --------------------------------------------------------------------------- request


def lambda_request(integration: Mapping[str, Any], event: Mapping[str, Any]) -> Any:
    """The function's event for this request (`event`: the proxy event the gateway built,
    its authorizer's context applied), or the Reply API Gateway answers instead."""
    headers = event.get("headers") or {}
    content_type = _content_type(headers)
    templates: Mapping[str, Any] = integration.get("templates") or {}
    template = templates.get(content_type)
    body = _raw_body(event)
    if template is None:
        behaviour = integration.get("passThrough") or "NEVER"
        if behaviour == "WHEN_NO_MATCH" or (behaviour == "WHEN_NO_TEMPLATES" and not templates):
            return _parse(body)
        return json_reply(415, {"message": "Unsupported Media Type"})
    variables = {
        "input": _Input(body, _params(event)),
        "context": _context(event),
        "util": _Util(),
        "stageVariables": event.get("stageVariables") or {},
    }
    return _parse(_render(str(template), variables))


def _content_type(headers: Mapping[str, Any]) -> str:
    for name, value in headers.items():
        if str(name).lower() == "content-type" and value:
            return str(value).split(";", 1)[0].strip().lower()
    return JSON  # API Gateway's assumption for a request without one


def _raw_body(event: Mapping[str, Any]) -> str:
    body = event.get("body")
    if body is None:
        return ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body).decode("utf-8", "replace")
    return str(body)


def _params(event: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    return {
        "path": dict(event.get("pathParameters") or {}),
        "querystring": dict(event.get("queryStringParameters") or {}),
        "header": dict(event.get("headers") or {}),
    }


def _context(event: Mapping[str, Any]) -> dict[str, Any]:
    request_context = dict(event.get("requestContext") or {})
    authorizer = dict(request_context.get("authorizer") or {})
    authorizer.setdefault("principalId", "")
    authorizer.setdefault("claims", {})
    request_context["authorizer"] = authorizer
    return request_context


def _parse(payload: str) -> Any:
    """The event as Lambda receives it: the rendered text must be JSON (an empty one is
    `{}`, as API Gateway sends for an empty template)."""
    if not payload.strip():
        return {}
    try:
        return json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ShipwayError(
            f"the request template made no JSON ({exc.msg} at {exc.pos}): Lambda cannot take it"
        ) from None


# --------------------------------------------------------------------------- response


def lambda_response(integration: Mapping[str, Any], ok: bool, payload: Any) -> Reply:
    """API Gateway's answer for the function's `payload` (its result, or its error document
    when not `ok`)."""
    responses: list[Mapping[str, Any]] = list(integration.get("responses") or [])
    chosen = _select(responses, ok, payload)
    if chosen is None:
        return json_reply(200, {}) if ok else json_reply(502, {"message": "Internal server error"})
    templates: Mapping[str, Any] = chosen.get("ResponseTemplates") or {}
    template = templates.get(JSON)
    if template:
        body = _render(str(template), {"input": _Input(json.dumps(payload), {}), "util": _Util()})
    else:
        body = json.dumps(payload)
    headers = [("Content-Type", JSON)]
    for key, value in (chosen.get("ResponseParameters") or {}).items():
        name = str(key).removeprefix("method.response.header.")
        mapped = _header_value(value, payload)
        if mapped is not None:
            headers.append((name, mapped))
    return Reply(int(chosen.get("StatusCode") or 200), headers, body.encode())


def _select(responses: list[Mapping[str, Any]], ok: bool, payload: Any) -> Mapping[str, Any] | None:
    default = next((r for r in responses if not r.get("SelectionPattern")), None)
    if ok:
        return default
    message = str(payload.get("errorMessage") or "") if isinstance(payload, dict) else ""
    for response in responses:
        pattern = response.get("SelectionPattern")
        if pattern and _pattern(str(pattern)).fullmatch(message):
            return response
    return default


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _header_value(value: Any, payload: Any) -> str | None:
    text = str(value)
    if len(text) >= 2 and text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    prefix = "integration.response.body."
    if text.startswith(prefix):
        found = _json_path(payload, "$." + text[len(prefix) :])
        return None if found is None else _scalar(found)
    return None  # integration.response.header.*: a Lambda answer has no headers


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# --------------------------------------------------------------------------- Velocity


@lru_cache(maxsize=256)
def _template(text: str) -> airspeed.Template:
    return airspeed.Template(text)


def _render(text: str, variables: dict[str, Any]) -> str:
    try:
        return str(_template(text).merge(variables))
    except Exception as exc:  # airspeed's own errors: a template it cannot render
        raise ShipwayError(f"the mapping template cannot be rendered: {exc}") from None


class _Input:
    """API Gateway's `$input`."""

    def __init__(self, body: str, params: dict[str, dict[str, str]]) -> None:
        self.body = body
        self._params = params
        self._document: Any = None
        self._parsed = False

    def _doc(self) -> Any:
        if not self._parsed:
            self._parsed = True
            try:
                self._document = json.loads(self.body) if self.body.strip() else {}
            except ValueError:
                self._document = self.body
        return self._document

    def json(self, path: str = "$") -> str:
        return json.dumps(_json_path(self._doc(), path))

    def path(self, path: str = "$") -> Any:
        return _json_path(self._doc(), path)

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return self._params
        for where in ("path", "querystring", "header"):
            if name in self._params.get(where, {}):
                return self._params[where][name]
        return ""


class _Util:
    """API Gateway's `$util`."""

    def escapeJavaScript(self, value: Any) -> str:
        return json.dumps(str(value), ensure_ascii=False)[1:-1].replace("'", "\\'")

    def parseJson(self, value: str) -> Any:
        return json.loads(value)

    def urlEncode(self, value: Any) -> str:
        return urllib.parse.quote_plus(str(value))

    def urlDecode(self, value: Any) -> str:
        return urllib.parse.unquote_plus(str(value))

    def base64Encode(self, value: Any) -> str:
        return base64.b64encode(str(value).encode()).decode()

    def base64Decode(self, value: Any) -> str:
        return base64.b64decode(str(value)).decode("utf-8", "replace")


_STEP = re.compile(r"\.([A-Za-z0-9_$-]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def _json_path(document: Any, path: str) -> Any:
    """The value at a simple JSONPath (`$`, `$.a.b`, `$.a[0]`, `$['a']`); None if absent."""
    path = path.strip() or "$"
    if not path.startswith("$"):
        raise ShipwayError(f"JSONPath `{path}` must start with `$`")
    value, at = document, 1
    while at < len(path):
        step = _STEP.match(path, at)
        if step is None:
            raise ShipwayError(f"JSONPath `{path}`: only `.name`, `[n]` and `['name']` are read")
        key, index = step.group(1) or step.group(3) or step.group(4), step.group(2)
        if index is not None:
            value = (
                value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
            )
        else:
            value = value.get(key) if isinstance(value, dict) else None
        at = step.end()
    return value
