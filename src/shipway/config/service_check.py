"""A resolved serverless.yml checked against what Shipway supports -> `ServiceDefinition`.

Every problem is collected (`ServiceChecker.errors`), each naming `file:line: key`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from shipway.config.names import function_name_problem, shown, stack_name_problem
from shipway.config.service_events import KeyPath, read_events
from shipway.config.variables import coerce_string, plain
from shipway.config.yamlsrc import key_path, kind_of, line_of
from shipway.errors import ShipwayError, Where
from shipway.limits import (
    MAX_LAMBDA_MEMORY_MB,
    MAX_LAMBDA_TIMEOUT_S,
    MAX_STACK_NAME,
    MIN_LAMBDA_MEMORY_MB,
    REGION_PATTERN,
)
from shipway.model import Function, ServiceDefinition

__all__ = [
    "DEFAULT_MEMORY_SIZE",
    "DEFAULT_REGION",
    "DEFAULT_RUNTIME",
    "DEFAULT_TIMEOUT",
    "TOP_LEVEL_KEYS",
    "ServiceChecker",
    "check_service_name",
    "env_value",
    "functions_of",
]

#: The Framework v3 defaults (lib/plugins/aws/provider.js, lib/plugins/aws/package).
DEFAULT_RUNTIME = "nodejs16.x"  # the Framework v3.40 default
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

_SERVICE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*\Z")
_REGION = re.compile(REGION_PATTERN)
_TAG_KEYS = ("tags", "stackTags")


def check_service_name(value: Any) -> str | None:
    if value is None:
        return "`service` is required"
    if not isinstance(value, str):
        return f"`service` must be a string, not {kind_of(value)}"
    if len(value) > MAX_STACK_NAME:
        return (
            f"service name `{shown(value)}` is {len(value)} characters long; its stack name "
            f"(`<service>-<stage>`) may have at most {MAX_STACK_NAME}"
        )
    if not _SERVICE_NAME.match(value):
        return (
            f"service name `{shown(value)}` is not valid: it must start with a letter and have "
            "only letters, digits and hyphens"
        )
    return None


class ServiceChecker:
    """Checks a resolved document and builds the `ServiceDefinition`; collects errors.

    `failed` are key paths the resolver already reported: problems below them are not
    reported twice.
    """

    def __init__(self, doc: Any, display: str, failed: tuple[str, ...]) -> None:
        self.doc = doc
        self.display = display
        self.failed = failed
        self.errors: list[ShipwayError] = []

    def error(self, path: KeyPath, message: str, hint: str | None = None) -> None:
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
                self.error((key,), f"top-level key `{key}` is not supported by Shipway")

        service_keys: KeyPath = ("service",)
        service = resolved.get("service")
        if isinstance(service, dict) and "name" in service:
            service, service_keys = service["name"], ("service", "name")
        problem = check_service_name(service)
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
        elif not _REGION.match(region):
            self.error(
                ("provider", "region"), f"`{shown(region)}` is not an AWS region (`eu-west-2`)"
            )
            region = DEFAULT_REGION
        for key in _TAG_KEYS:
            self.tags(("provider", key), provider.get(key))
        runtime = self.runtime(("provider", "runtime"), provider.get("runtime"), DEFAULT_RUNTIME)
        timeout = self.timeout(("provider", "timeout"), provider.get("timeout"), DEFAULT_TIMEOUT)
        memory = self.memory(
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

        if not problem and isinstance(service, str):
            self.names(service_keys, service, stage, provider, resolved.get("functions"))

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

    def names(
        self, service_keys: KeyPath, service: str, stage: str, provider: Any, functions: Any
    ) -> None:
        """The stack and function names AWS will be given (the Framework's defaults,
        `<service>-<stage>` and `<service>-<stage>-<function>`, or the names written)."""
        custom = provider.get("stackName") if isinstance(provider, dict) else None
        stack, stack_keys = (
            (custom, ("provider", "stackName"))
            if isinstance(custom, str)
            else (f"{service}-{stage}", service_keys)
        )
        problem = stack_name_problem(stack)
        if problem:
            self.error(stack_keys, problem)
        if isinstance(functions, list):
            merged: dict[str, Any] = {}
            for part in functions:
                merged.update(part if isinstance(part, dict) else {})
            functions = merged
        if not isinstance(functions, dict):
            return
        for key, spec in functions.items():
            written = spec.get("name") if isinstance(spec, dict) else None
            name, keys = (
                (written, ("functions", key, "name"))
                if isinstance(written, str)
                else (f"{service}-{stage}-{key}", ("functions", key))
            )
            problem = function_name_problem(name)
            if problem:
                hint = None if isinstance(written, str) else "give the function a shorter `name:`"
                self.error(keys, problem, hint)

    def tags(self, path: KeyPath, value: Any) -> None:
        if value is not None and not isinstance(value, dict):
            self.error(path, f"expected a mapping of tag names to values, got {kind_of(value)}")

    def plugins(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, dict):  # {modules: [...], localPath: ...}
            value = value.get("modules") or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(("plugins",), "`plugins` must be a list of plugin names")
            return ()
        return tuple(value)

    # ------------------------------------------------------------------ values

    def timeout(self, path: KeyPath, value: Any, default: int) -> int:
        return self.integer(path, value, default, 1, MAX_LAMBDA_TIMEOUT_S, "seconds (Lambda's)")

    def memory(self, path: KeyPath, value: Any, default: int) -> int:
        return self.integer(
            path, value, default, MIN_LAMBDA_MEMORY_MB, MAX_LAMBDA_MEMORY_MB, "MB (Lambda's)"
        )

    def integer(
        self, path: KeyPath, value: Any, default: int, low: int, high: int, unit: str
    ) -> int:
        """A whole number from `low` to `high` (Lambda's limits)."""
        checked = self._whole(path, value, default)
        if not low <= checked <= high:
            self.error(path, f"`{path[-1]}` must be from {low} to {high} {unit} limits)")
            return default
        return checked

    def _whole(self, path: KeyPath, value: Any, default: int) -> int:
        if value is None:
            return default
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 10:
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.error(
                path, f"`{path[-1]}` must be a positive whole number, not {shown(repr(value))}"
            )
            return default
        return value

    def runtime(self, path: KeyPath, value: Any, default: str) -> str:
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            self.error(path, f"`runtime` must be a string, not {kind_of(value)}")
            return default
        return value

    def environment(self, path: KeyPath, value: Any) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"`environment` must be a mapping, not {kind_of(value)}")
            return {}
        out: dict[str, str] = {}
        for name, item in value.items():
            text = env_value(item)
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
        base: KeyPath = ("functions", name)
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
        fn_timeout = self.timeout((*base, "timeout"), spec.get("timeout"), timeout)
        fn_memory = self.memory((*base, "memorySize"), spec.get("memorySize"), memory)
        self.tags((*base, "tags"), spec.get("tags"))
        environment = {
            **provider_env,
            **self.environment((*base, "environment"), spec.get("environment")),
        }
        events, routes = read_events(base, spec.get("events"), self.error)
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


def env_value(value: Any) -> str | None:
    """An environment value as the Framework passes it (numbers and booleans as text).

    CloudFormation intrinsics (`{Ref: X}`, `Fn::GetAtt` …) are kept as compact JSON.
    """
    if isinstance(value, dict):
        return json.dumps(plain(value), sort_keys=True, separators=(",", ":"))
    if isinstance(value, list):
        return None
    return coerce_string(value)


def functions_of(resolved: Mapping[str, Any]) -> dict[str, Any]:
    """`functions:` as a mapping (the Framework also takes a list of mappings, merged)."""
    value = resolved.get("functions") or {}
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for part in value:
            if isinstance(part, dict):
                merged.update(part)
        value = merged
    return dict(value) if isinstance(value, dict) else {}
