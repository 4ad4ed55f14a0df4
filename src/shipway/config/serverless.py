"""serverless.yml (Serverless Framework v3) -> `ServiceDefinition`.

The document is resolved once with `config.resolver` (every `${...}`), then checked;
every problem is collected and raised as one `ConfigErrors`, each naming
`file:line: key`.
"""

from __future__ import annotations

import json
import os
import re
from collections import ChainMap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipway.config.resolver import Resolver, SourceFn, coerce_string, plain
from shipway.config.yamlsrc import key_path, kind_of, line_of, load_yaml
from shipway.errors import ConfigErrors, ShipwayError, Where
from shipway.model import Event, Function, HttpRoute, ServiceDefinition

__all__ = [
    "CONFIG_NAMES",
    "DEFAULT_MEMORY_SIZE",
    "DEFAULT_RUNTIME",
    "DEFAULT_TIMEOUT",
    "KNOWN_EVENTS",
    "TOP_LEVEL_KEYS",
    "find_config",
    "load_service",
    "read_service_name",
]

CONFIG_NAMES = ("serverless.yml", "serverless.yaml")
_UNSUPPORTED_NAMES = (
    "serverless.json",
    "serverless.ts",
    "serverless.js",
    "serverless.cjs",
    "serverless.mjs",
)

#: The Framework v3 defaults (lib/plugins/aws/provider.js, lib/plugins/aws/package).
DEFAULT_RUNTIME = "nodejs14.x"
DEFAULT_TIMEOUT = 6
DEFAULT_MEMORY_SIZE = 1024
DEFAULT_REGION = "us-east-1"

TOP_LEVEL_KEYS = frozenset(
    {
        "service",
        "frameworkVersion",
        "configValidationMode",
        "useDotenv",
        "variablesResolutionMode",
        "unresolvedVariablesNotificationMode",
        "provider",
        "functions",
        "resources",
        "custom",
        "package",
        "plugins",
        "layers",
        "params",
        "stages",
        "org",
        "app",
        "tenant",
        "outputs",
        "disabledDeprecations",
        "deprecationNotificationMode",
        "console",
        "dashboard",
        "build",
        "license",
    }
)

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

_SERVICE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*\Z")
_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})

Path_ = tuple[str | int, ...]


# --------------------------------------------------------------------------- finding


def find_config(service_dir: Path) -> Path | None:
    """The service's serverless.yml (or .yaml); None when there is none.

    A serverless.json / .ts / .js alone is an error: Shipway reads only YAML.
    """
    for name in CONFIG_NAMES:
        path = service_dir / name
        if path.is_file():
            return path
    for name in _UNSUPPORTED_NAMES:
        if (service_dir / name).is_file():
            raise ShipwayError(
                f"`{name}` is not supported",
                Where(str(service_dir / name)),
                hint="Shipway reads serverless.yml or serverless.yaml; convert the file to YAML",
            )
    return None


def read_service_name(
    path: Path,
    display: str,
    *,
    env: Mapping[str, str] | None = None,
    options: Mapping[str, Any] | None = None,
) -> str:
    """The `service:` value, quickly: variables are resolved only when it has `${`.

    `env` defaults to `os.environ`; `options` (e.g. `{"stage": "dev"}`) to none.
    """
    doc = load_yaml(path, display)
    if not isinstance(doc, dict):
        raise ShipwayError("serverless.yml must be a mapping", Where(display, 1))
    value = doc.get("service")
    keys: Path_ = ("service",)
    if isinstance(value, dict) and "name" in value:  # old form: service: {name: x}
        value, keys = value["name"], ("service", "name")
    if isinstance(value, str) and "${" in value:
        resolver = Resolver(
            doc,
            display=display,
            service_dir=path.parent,
            options=options,
            env=os.environ if env is None else env,
        )
        value = resolver.resolve_key(list(keys))
    problem = _check_service_name(value)
    if problem:
        raise ShipwayError(problem, Where(display, line_of(doc, keys), key_path(keys)))
    assert isinstance(value, str)
    return value


def _check_service_name(value: Any) -> str | None:
    if value is None:
        return "`service` is required"
    if not isinstance(value, str):
        return f"`service` must be a string, not {kind_of(value)}"
    if not _SERVICE_NAME.match(value):
        return (
            f"service name `{value}` is not valid: it must start with a letter and have "
            "only letters, digits and hyphens"
        )
    return None


# --------------------------------------------------------------------------- loading


def load_service(
    service_dir: Path,
    display: str,
    *,
    stage: str,
    env: Mapping[str, str],
    params: Mapping[str, str],
    options: Mapping[str, str] | None = None,
    sources: Mapping[str, SourceFn] | None = None,
) -> ServiceDefinition:
    """Read, resolve and check a service's serverless.yml for one stage.

    `display` is the config path shown in errors (e.g. `services/accounts/serverless.yml`).
    `${env:X}` sees `env` first, then `os.environ` (only `os.environ` when the file says
    `useDotenv: false`). `${param:X}` sees `params` first, then the file's `params:`.
    `${opt:stage}` and `${sls:stage}` are `stage`. `sources` adds AWS-backed sources
    (`ssm`, `cf`, `s3`, `aws`). Raises ConfigErrors listing every problem.
    """
    config = find_config(service_dir)
    if config is None:
        raise ShipwayError("no serverless.yml in the service folder", Where(display))
    doc = load_yaml(config, display)
    if not isinstance(doc, dict):
        raise ShipwayError("serverless.yml must be a mapping", Where(display, 1))
    # `useDotenv: false`: `${env:}` sees only the process environment (SPEC §2)
    merged_env: Mapping[str, str] = (
        os.environ if doc.get("useDotenv") is False else ChainMap(dict(env), os.environ)
    )
    opts: dict[str, Any] = dict(options or {})
    opts["stage"] = stage
    resolver = Resolver(
        doc,
        display=display,
        service_dir=service_dir,
        options=opts,
        env=merged_env,
        params=params,
        sources=sources,
    )
    errors: list[ShipwayError] = []
    try:
        resolved = resolver.resolve()
        failed: tuple[str, ...] = ()
    except ConfigErrors as exc:
        errors.extend(exc.errors)
        resolved = resolver.partial()
        failed = resolver.failed_keys
    checker = _Checker(doc, display, failed)
    definition = checker.build(resolved, stage, opts)
    errors.extend(checker.errors)
    if errors:
        raise ConfigErrors(errors)
    assert definition is not None
    return definition


class _Checker:
    def __init__(self, doc: Any, display: str, failed: tuple[str, ...]) -> None:
        self.doc = doc
        self.display = display
        self.failed = failed
        self.errors: list[ShipwayError] = []

    def error(self, path: Path_, message: str, hint: str | None = None) -> None:
        key = key_path(path)
        for bad in self.failed:  # already reported by the resolver
            if key == bad or key.startswith((bad + ".", bad + "[")):
                return
        where = Where(self.display, line_of(self.doc, path), key or None)
        self.errors.append(ShipwayError(message, where, hint))

    # ------------------------------------------------------------------ document

    def build(
        self, resolved: dict[str, Any], stage: str, options: Mapping[str, Any]
    ) -> ServiceDefinition | None:
        for key in resolved:
            if key not in TOP_LEVEL_KEYS:
                self.error((key,), f"unknown top-level key `{key}`")

        service_keys: Path_ = ("service",)
        service = resolved.get("service")
        if isinstance(service, dict) and "name" in service:
            service, service_keys = service["name"], ("service", "name")
        problem = _check_service_name(service)
        if problem:
            self.error(service_keys, problem)

        provider = resolved.get("provider")
        if not isinstance(provider, dict):
            self.error(("provider",), "`provider` is required, with `name: aws`")
            provider = {}
        elif provider.get("name") != "aws":
            name = provider.get("name")
            if name is None:
                self.error(("provider", "name"), "`provider.name` is required (`aws`)")
            else:
                self.error(
                    ("provider", "name"),
                    f"provider `{name}` is not supported: Shipway deploys only `aws` services",
                )

        region = options.get("region") or provider.get("region") or DEFAULT_REGION
        if not isinstance(region, str):
            self.error(("provider", "region"), f"`region` must be a string, not {kind_of(region)}")
            region = DEFAULT_REGION
        runtime = self.runtime(("provider", "runtime"), provider.get("runtime"), DEFAULT_RUNTIME)
        timeout = self.integer(("provider", "timeout"), provider.get("timeout"), DEFAULT_TIMEOUT)
        memory = self.integer(
            ("provider", "memorySize"), provider.get("memorySize"), DEFAULT_MEMORY_SIZE
        )
        provider_env = self.environment(("provider", "environment"), provider.get("environment"))

        functions = self.functions(
            resolved.get("functions"), runtime, timeout, memory, provider_env
        )
        patterns, artifact = self.package(resolved.get("package"))

        use_dotenv = resolved.get("useDotenv", True)
        if not isinstance(use_dotenv, bool):
            self.error(
                ("useDotenv",), f"`useDotenv` must be true or false, not {kind_of(use_dotenv)}"
            )
            use_dotenv = True

        if "plugins" in resolved:
            resolved["plugins"] = self.plugins(resolved["plugins"])

        if self.errors:
            return None
        return ServiceDefinition(
            service=str(service),
            stage=stage,
            region=region,
            runtime=runtime,
            functions=functions,
            package_patterns=patterns,
            package_artifact=artifact,
            use_dotenv=use_dotenv,
            resolved=resolved,
        )

    def plugins(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, dict):  # {modules: [...], localPath: ...}
            value = value.get("modules") or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(("plugins",), "`plugins` must be a list of plugin names")
            return ()
        return tuple(value)

    # ------------------------------------------------------------------ values

    def integer(self, path: Path_, value: Any, default: int) -> int:
        if value is None:
            return default
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.error(path, f"`{path[-1]}` must be a positive whole number, not {value!r}")
            return default
        return value

    def runtime(self, path: Path_, value: Any, default: str) -> str:
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            self.error(path, f"`runtime` must be a string, not {kind_of(value)}")
            return default
        return value

    def environment(self, path: Path_, value: Any) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"`environment` must be a mapping, not {kind_of(value)}")
            return {}
        out: dict[str, str] = {}
        for name, item in value.items():
            text = _env_value(item)
            if text is None:
                self.error(
                    (*path, name),
                    f"environment variable `{name}` must be a string, number or boolean, "
                    f"not {kind_of(item)}",
                )
                continue
            out[name] = text
        return out

    # ------------------------------------------------------------------ functions

    def functions(
        self,
        value: Any,
        runtime: str,
        timeout: int,
        memory: int,
        provider_env: dict[str, str],
    ) -> tuple[Function, ...]:
        if value is None:
            return ()
        if isinstance(value, list):  # v3 accepts a list of mappings (merged)
            merged: dict[str, Any] = {}
            for i, part in enumerate(value):
                if not isinstance(part, dict):
                    self.error(("functions", i), "`functions` items must be mappings")
                    continue
                merged.update(part)
            value = merged
        if not isinstance(value, dict):
            self.error(("functions",), f"`functions` must be a mapping, not {kind_of(value)}")
            return ()
        out = []
        for name, spec in value.items():
            fn = self.function(name, spec, runtime, timeout, memory, provider_env)
            if fn is not None:
                out.append(fn)
        return tuple(out)

    def function(
        self,
        name: str,
        spec: Any,
        runtime: str,
        timeout: int,
        memory: int,
        provider_env: dict[str, str],
    ) -> Function | None:
        base: Path_ = ("functions", name)
        if not isinstance(spec, dict):
            self.error(base, f"function `{name}` must be a mapping, not {kind_of(spec)}")
            return None
        handler = spec.get("handler")
        if "image" in spec and handler is None:
            self.error(
                (*base, "image"),
                "container image functions are not supported",
                hint="use `handler:` with a zip package",
            )
            return None
        if not isinstance(handler, str) or not handler:
            self.error(
                base if handler is None else (*base, "handler"),
                f"function `{name}` needs a `handler` (e.g. `handler.main`)",
            )
            return None
        fn_runtime = self.runtime((*base, "runtime"), spec.get("runtime"), runtime)
        fn_timeout = self.integer((*base, "timeout"), spec.get("timeout"), timeout)
        fn_memory = self.integer((*base, "memorySize"), spec.get("memorySize"), memory)
        environment = {
            **provider_env,
            **self.environment((*base, "environment"), spec.get("environment")),
        }
        events, routes = self.events(base, spec.get("events"))
        return Function(
            name=name,
            handler=handler,
            runtime=fn_runtime,
            timeout=fn_timeout,
            memory_size=fn_memory,
            environment=environment,
            events=events,
            routes=routes,
        )

    def events(self, base: Path_, value: Any) -> tuple[tuple[Event, ...], tuple[HttpRoute, ...]]:
        if value is None:
            return (), ()
        path: Path_ = (*base, "events")
        if not isinstance(value, list):
            self.error(path, f"`events` must be a list, not {kind_of(value)}")
            return (), ()
        events: list[Event] = []
        routes: list[HttpRoute] = []
        for i, item in enumerate(value):
            at: Path_ = (*path, i)
            if not isinstance(item, dict) or len(item) != 1:
                self.error(at, "an event must be a mapping with one key, its type (e.g. `http:`)")
                continue
            ((kind, config),) = item.items()
            if kind not in KNOWN_EVENTS:
                self.error(at, f"unknown event type `{kind}`")
                continue
            events.append(Event(kind, config))
            if kind == "http":
                route = self.http_route(at, config)
            elif kind == "httpApi":
                route = self.http_api_route(at, config)
            else:
                continue
            if route is not None:
                routes.append(route)
        return tuple(events), tuple(routes)

    def http_route(self, at: Path_, config: Any) -> HttpRoute | None:
        at = (*at, "http")
        method: Any
        path: Any
        if isinstance(config, str):
            parts = config.split()
            if len(parts) != 2:
                self.error(at, f"`http: {config}` must be `METHOD path`, e.g. `GET users/{{id}}`")
                return None
            method, path = parts
        elif isinstance(config, dict):
            method, path = config.get("method"), config.get("path")
            if not isinstance(path, str):
                self.error((*at, "path"), "an `http` event needs a `path`")
                return None
            if not isinstance(method, str):
                self.error((*at, "method"), "an `http` event needs a `method`")
                return None
        else:
            self.error(at, f"an `http` event must be a string or a mapping, not {kind_of(config)}")
            return None
        method = method.upper()
        if method == "*":
            method = "ANY"
        if method not in _HTTP_METHODS:
            self.error(at, f"unknown HTTP method `{method}`")
            return None
        return HttpRoute("http", method, _route_path(path))

    def http_api_route(self, at: Path_, config: Any) -> HttpRoute | None:
        at = (*at, "httpApi")
        method: Any
        path: Any
        if isinstance(config, str):
            if config.strip() == "*":
                return HttpRoute("httpApi", "ANY", "*")
            parts = config.split()
            if len(parts) != 2:
                self.error(at, f"`httpApi: {config}` must be `METHOD /path` or `*`")
                return None
            method, path = parts
        elif isinstance(config, dict):
            method, path = config.get("method", "*"), config.get("path")
            if not isinstance(path, str):
                self.error((*at, "path"), "an `httpApi` event needs a `path`")
                return None
            if not isinstance(method, str):
                self.error((*at, "method"), "`method` must be a string")
                return None
        else:
            self.error(
                at, f"an `httpApi` event must be a string or a mapping, not {kind_of(config)}"
            )
            return None
        method = method.upper()
        if method == "*":
            method = "ANY"
        if method not in _HTTP_METHODS:
            self.error(at, f"unknown HTTP method `{method}`")
            return None
        if path.strip() == "*":
            return HttpRoute("httpApi", method, "*")
        return HttpRoute("httpApi", method, _route_path(path))

    # ------------------------------------------------------------------ package

    def package(self, value: Any) -> tuple[tuple[str, ...], str | None]:
        if value is None:
            return (), None
        if not isinstance(value, dict):
            self.error(("package",), f"`package` must be a mapping, not {kind_of(value)}")
            return (), None
        patterns: list[str] = []
        for key, negate in (("exclude", True), ("include", False), ("patterns", False)):
            items = value.get(key)
            if items is None:
                continue
            if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
                self.error(("package", key), f"`package.{key}` must be a list of glob patterns")
                continue
            patterns.extend(f"!{p}" if negate else p for p in items)
        artifact = value.get("artifact")
        if artifact is not None and not isinstance(artifact, str):
            self.error(("package", "artifact"), "`package.artifact` must be a path")
            artifact = None
        return tuple(patterns), artifact


def _route_path(path: str) -> str:
    path = "/" + path.strip().strip("/")
    return path


def _env_value(value: Any) -> str | None:
    """An environment value as the Framework passes it (numbers and booleans as text).

    CloudFormation intrinsics (`{Ref: X}`, `Fn::GetAtt` …) are kept as compact JSON.
    """
    if isinstance(value, dict):
        return json.dumps(plain(value), sort_keys=True, separators=(",", ":"))
    if isinstance(value, list):
        return None
    return coerce_string(value)
