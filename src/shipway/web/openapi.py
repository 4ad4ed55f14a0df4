"""The API's OpenAPI 3.1 document (`/openapi.json`) and its page (`/docs`), both made from
api.ROUTES, so they describe what the server really serves. The page is plain HTML made
here: no script, no CDN (the server has no internet, nor should its docs need one).
"""

from __future__ import annotations

import html
import json
import re
from functools import cache
from typing import Any

from shipway import __version__
from shipway.web.api import ROUTES, Route

__all__ = ["docs_page", "openapi_document"]

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "examples": ["forbidden"]},
                "message": {"type": "string"},
                "hint": {"type": "string"},
            },
        }
    },
}
_ERROR_REF = "#/components/schemas/Error"
_ERRORS = {
    "400": "Bad input: the message names the field or parameter.",
    "401": "No valid token in `Authorization: Bearer <token>`.",
    "403": "The token may not do this (the attempt is in the audit log).",
    "404": "No such run, environment or token.",
    "409": "The run or environment is not in a state that allows this.",
    "500": "A fault in the server (its log says more).",
}


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    params = [
        {"name": p[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
        for p in route.parts
        if p.startswith("{")
    ]
    params += [
        {"name": q, "in": "query", "required": False, "schema": {"type": "string"}}
        for q in route.query
    ]
    answer = {"text/plain": {"schema": {"type": "string"}}} if route.text else None
    op: dict[str, Any] = {
        "summary": route.summary,
        "description": f"Needs a token with the role: {route.needs}.",
        "operationId": route.method.lower() + re.sub(r"[/{}]+", "_", route.path).rstrip("_"),
        "security": [{"bearer": []}],
        "responses": {
            str(route.status): {
                "description": "Done.",
                "content": answer or {"application/json": {"schema": {}}},
            },
            **{
                code: {
                    "description": words,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                for code, words in _ERRORS.items()
            },
        },
    }
    if params:
        op["parameters"] = params
    if route.body is not None:
        name = route.body.__name__
        schemas[name] = route.body.model_json_schema(ref_template="#/components/schemas/{model}")
        op["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    return op


@cache
def openapi_document() -> bytes:
    schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    doc = {
        "openapi": "3.1.0",
        "info": {
            "title": "Shipway server API",
            "version": __version__,
            "description": "Runs, approvals, releases, tokens and the audit log of one "
            "repository's pipeline. Every route needs an API token (`shipway token create`).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _fields(route: Route) -> str:
    if route.body is None:
        return ""
    rows = []
    schema = route.body.model_json_schema()
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type") or " or ".join(
            str(p.get("type")) for p in prop.get("anyOf", ()) if p.get("type") != "null"
        )
        need = "required" if name in required else "optional"
        words = html.escape(prop.get("description", ""))
        rows.append(f"<li><code>{html.escape(name)}</code> ({kind}, {need}) {words}</li>")
    return "<p>JSON body:</p><ul>" + "".join(rows) + "</ul>"


@cache
def docs_page() -> bytes:
    sections = []
    for route in ROUTES:
        query = ", ".join(f"<code>{q}</code>" for q in route.query)
        sections.append(
            f"<section><h2><code>{route.method} {html.escape(route.path)}</code></h2>"
            f"<p>{html.escape(route.summary)}</p>"
            f"<p>Role: {html.escape(route.needs)}. Answers {route.status}"
            f"{' (text)' if route.text else ' (JSON)'}.</p>"
            + (f"<p>Query: {query}</p>" if query else "")
            + _fields(route)
            + "</section>"
        )
    errors = "".join(f"<li><code>{c}</code> {html.escape(w)}</li>" for c, w in _ERRORS.items())
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Shipway API</title><style>body{font-family:system-ui,sans-serif;max-width:52rem;"
        "margin:2rem auto;padding:0 1rem;line-height:1.45}code{background:#f3f3f3;padding:0 .2em}"
        "section{border-top:1px solid #ddd;margin-top:1rem}</style></head><body>"
        f"<h1>Shipway server API {html.escape(__version__)}</h1>"
        "<p>Every route needs <code>Authorization: Bearer &lt;token&gt;</code> "
        "(<code>shipway token create --user NAME --role ROLE</code>). The machine-readable "
        'document: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>'
        f'<p>Errors are JSON <code>{{"error": {{"code", "message", "hint"}}}}</code>:</p>'
        f"<ul>{errors}</ul>" + "".join(sections) + "</body></html>\n"
    )
    return page.encode()
