"""`serverless-compose.yml` as the Serverless Framework's Compose (v3, `@serverless/compose`)
reads it: `services: {<key>: {path, config?, dependsOn?, params?}}`.

What Compose does, and this module with it:
- the file is the first of `serverless-compose.{yml,yaml,json,js,ts}` in the repository's
  root; a `.js` / `.ts` one is code, which Shipway does not run: refused;
- top-level keys are `services` (and Compose's remote `state`, refused here: Shipway keeps
  its own); a serverless.yml setting there (`provider`, `functions` …) is refused by name;
  `org` / `app` are the Dashboard's and have no effect on a deployment (as in serverless.yml);
- a service: `path` (a folder of the repository, not its root, used by no other service),
  `config` (the service file's name in that folder, default serverless.yml), `dependsOn`
  (a key or a list of keys), `params` (passed as `--param key=value`: `${param:key}`);
  `region` and custom `component`s are refused by name;
- variables: `${sls:stage}`, `${env:NAME}` and `${<key>.<Output>}` (an output of another
  service's stack, which makes that service a dependency); any other source is refused;
- an unknown `dependsOn` / `${<key>.…}`, and a dependency cycle, are errors.

Every problem is collected, each naming the file, line and key.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.config.files import climbs_out, is_inside
from shipway.config.names import service_path_problem, shown
from shipway.config.services import config_name_problem
from shipway.config.yamlsrc import LineDict, key_path, kind_of, line_of, load_yaml
from shipway.errors import ConfigErrors, ShipwayError, Where

#: the names Compose looks for, in its order (the first found is the one it reads)
COMPOSE_NAMES = (
    "serverless-compose.yml",
    "serverless-compose.yaml",
    "serverless-compose.json",
    "serverless-compose.js",
    "serverless-compose.ts",
)
_CODE_NAMES = frozenset({"serverless-compose.js", "serverless-compose.ts"})
_SERVICE_KEYS = ("path", "config", "dependsOn", "params")
_REFUSED_SERVICE_KEYS = {
    "region": "Shipway deploys every service to its environment's region "
    "(`environments.<name>.target.aws.region`)",
    "component": "Shipway deploys Serverless Framework services only",
}
_FRAMEWORK_KEYS = frozenset(
    {"service", "provider", "functions", "params", "frameworkVersion", "useDotenv"}
    | {"package", "layers", "resources", "custom", "plugins"}
)
_DASHBOARD_KEYS = frozenset({"org", "app"})
#: Compose's own variable pattern (ComponentsService.js): `${name}` or `${source:address}`
_VARIABLE = re.compile(r"\$\{(\w*:?[\w\d.-]+)\}")
_ENV_NAME = re.compile(r"\w[\w.-]*\Z")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


@dataclass(frozen=True)
class ComposeService:
    key: str  # Compose's name for it (its `services:` key), used by `dependsOn` and `${key.X}`
    path: str  # posix, relative to the repository root
    config: str | None  # `config:`, the service file's name in `path`
    depends_on: tuple[str, ...]  # keys: `dependsOn`, then those `${key.Output}` names
    params: tuple[tuple[str, str], ...]  # `--param` name and text, variables unresolved


@dataclass(frozen=True)
class Compose:
    file: str  # e.g. "serverless-compose.yml"
    services: tuple[ComposeService, ...]

    def by_key(self) -> dict[str, ComposeService]:
        return {s.key: s for s in self.services}


def compose_file(root: Path) -> str | None:
    """The name of the Compose file Compose would read in `root`, or None."""
    return next((n for n in COMPOSE_NAMES if (root / n).is_file()), None)


def read_compose(root: Path) -> Compose | None:
    """The repository's Compose file, checked; None when it has none. ConfigErrors lists
    every problem."""
    name = compose_file(root)
    if name is None:
        return None
    if name in _CODE_NAMES:
        raise ShipwayError(
            f"`{name}` is code, which Shipway does not run",
            Where(name),
            hint="write it as serverless-compose.yml (the same keys, in YAML)",
        )
    doc = load_yaml(root / name, name, root, core_booleans=True)
    errors: list[ShipwayError] = []
    compose = _check(root, name, doc, errors)
    if errors:
        raise ConfigErrors(errors)
    return compose


def compose_folder(path: str) -> str:
    """A `path:` as a folder of the repository, posix, relative (`./api/` -> `api`)."""
    text = path.replace("\\", "/")
    folder = posixpath.normpath(text).strip("/") if text.strip("/") else ""
    return "" if folder == "." else folder


def sibling_outputs(text: str) -> list[tuple[str, str]]:
    """The `(key, Output)` of each `${key.Output}` in a param's text."""
    out = []
    for match in _VARIABLE.finditer(text):
        inner = match.group(1)
        if ":" not in inner:
            key, _, output = inner.partition(".")
            out.append((key, output))
    return out


def as_stack_reads(text: str, stacks: dict[str, str]) -> str:
    """A param's text with each `${key.Output}` written as the `${cf:<stack>.Output}` it
    stands for (`stacks`: key -> stack name, holding `${sls:stage}`), so the variable
    resolver reads a sibling's outputs the way it reads any stack of the repository."""

    def one(match: re.Match[str]) -> str:
        inner = match.group(1)
        if ":" in inner:
            return match.group(0)
        key, _, output = inner.partition(".")
        if key not in stacks:  # a service that did not load: reported already
            return match.group(0)
        return "${cf:" + stacks[key] + "." + output + "}"

    return _VARIABLE.sub(one, text)


# --------------------------------------------------------------------------- checking


def _check(root: Path, name: str, doc: Any, errors: list[ShipwayError]) -> Compose:
    def error(path: list[str | int], message: str, hint: str | None = None) -> None:
        errors.append(ShipwayError(message, Where(name, line_of(doc, path), key_path(path)), hint))

    if not isinstance(doc, LineDict):
        errors.append(ShipwayError(f"expected a mapping with `services`, got {kind_of(doc)}"))
        return Compose(name, ())
    for top in doc:
        if top in _FRAMEWORK_KEYS:
            error(
                [top],
                f"`{shown(top)}` is a serverless.yml setting; Compose does not read it here",
                hint="move it into the services' serverless.yml",
            )
        elif top == "state":
            error([top], "Compose's remote `state` is not used: Shipway keeps its own state")
        elif top == "stage":
            error(
                [top],
                "the stage is the environment's in Shipway (Compose v3 has no `stage` key)",
                hint="set `environments.<name>.stage` in shipway.yml; remove `stage` here",
            )
        elif top not in _DASHBOARD_KEYS and top != "services":
            error([top], f"unknown key `{shown(top)}`", hint="Compose reads `services`")
    services = doc.get("services")
    if not isinstance(services, LineDict) or not services:
        what = "an empty mapping" if isinstance(services, dict) else kind_of(services)
        error(["services"], f"`services` must be a mapping of services, got {what}")
        return Compose(name, ())
    out: list[ComposeService] = []
    paths: dict[str, str] = {}
    for key, block in services.items():
        found = _service(root, key, block, error)
        if found is None:
            continue
        if found.path in paths:
            error(
                ["services", key, "path"],
                f"`{found.path}` is also the path of service `{paths[found.path]}`",
                hint="each Compose service has its own folder",
            )
            continue
        paths[found.path] = key
        out.append(found)
    known = {s.key for s in out} | set(services)
    for s in out:
        for index, dep in enumerate(_explicit_deps(services[s.key])):
            if dep not in known:
                path: list[str | int] = ["services", s.key, "dependsOn"]
                if isinstance(services[s.key].get("dependsOn"), list):
                    path.append(index)
                error(path, f"`dependsOn` names `{shown(dep)}`, which is not a service here")
        for param, text in s.params:
            for ref, _ in sibling_outputs(text):
                if ref not in known:
                    error(
                        ["services", s.key, "params", param],
                        f"`${{{ref}.…}}` names `{shown(ref)}`, which is not a service here",
                        hint=f"known: {', '.join(sorted(known))}",
                    )
    if not errors:
        cycle = _cycle(out)
        if cycle:
            error(
                ["services", cycle[0], "dependsOn"],
                f"the services depend on each other in a cycle: {' -> '.join(cycle)}",
                hint="`dependsOn` and `${service.Output}` params both order the deploys",
            )
    return Compose(name, tuple(out))


def _service(root: Path, key: str, block: Any, error: Any) -> ComposeService | None:
    at: list[str | int] = ["services", key]
    if not isinstance(key, str) or not _NAME.match(key):
        error(at, f"`{shown(key)}` is not a service name: letters, digits, `-`, `_` and `.`")
        return None
    if not isinstance(block, LineDict):
        error(at, f"service `{key}` must be a mapping with `path`, got {kind_of(block)}")
        return None
    ok = True
    for field in block:
        if field in _REFUSED_SERVICE_KEYS:
            error([*at, field], f"`{field}` is not supported", _REFUSED_SERVICE_KEYS[field])
            ok = False
        elif field not in _SERVICE_KEYS:
            error(
                [*at, field],
                f"unknown key `{shown(field)}`",
                hint="a Compose service has `path`, `config`, `dependsOn` and `params`",
            )
            ok = False
    path = _path(root, key, block, error)
    config = _config(root, key, block, path, error)
    deps = block.get("dependsOn")
    if deps is not None and not (
        isinstance(deps, str) or (isinstance(deps, list) and all(isinstance(d, str) for d in deps))
    ):
        error([*at, "dependsOn"], f"`dependsOn` must be a name or a list of names, got {deps!r}")
        ok = False
    params = _params(key, block, error)
    if path is None or params is None or not ok or config is False:
        return None
    implied = [ref for _, text in params for ref, _ in sibling_outputs(text)]
    depends = tuple(dict.fromkeys([*_explicit_deps(block), *implied]))
    return ComposeService(key, path, config if isinstance(config, str) else None, depends, params)


def _path(root: Path, key: str, block: LineDict, error: Any) -> str | None:
    at: list[str | int] = ["services", key, "path"]
    raw = block.get("path")
    if raw is None:
        error(["services", key], f"service `{key}` needs a `path`", hint="path: services/users")
        return None
    if not isinstance(raw, str):
        error(at, f"`path` must be a folder name, got {kind_of(raw)}")
        return None
    if "${" in raw:
        error(at, "a variable in `path` is not supported", hint="write the folder itself")
        return None
    text = raw.replace("\\", "/")
    folder = compose_folder(text)
    problem = service_path_problem(folder)
    if text.startswith("/") or climbs_out(text):
        problem = f"`{shown(raw)}` leads outside the repository"
    elif not folder:
        problem = "`path` is the repository's root; Compose needs each service in its own folder"
    if problem:
        error(at, problem)
        return None
    where = root / folder
    if not is_inside(root, where):
        error(at, f"`{shown(raw)}` is a symlink that leads outside the repository")
        return None
    if not where.is_dir():
        error(at, f"`{shown(folder)}` is not a folder of the repository")
        return None
    return folder


def _config(
    root: Path, key: str, block: LineDict, folder: str | None, error: Any
) -> str | bool | None:
    """`config:`'s file name (None: the default serverless.yml); False after an error."""
    at: list[str | int] = ["services", key, "config"]
    raw = block.get("config")
    if raw is None:
        if folder is not None and not any(
            (root / folder / n).is_file() for n in ("serverless.yml", "serverless.yaml")
        ):
            error(
                ["services", key, "path"],
                f"`{folder}` has no serverless.yml",
                hint="name the service file with `config:` when it has another name",
            )
            return False
        return None
    if not isinstance(raw, str):
        error(at, f"`config` must be a file name, got {kind_of(raw)}")
        return False
    problem = config_name_problem(raw)
    if problem:
        error(at, problem)
        return False
    if folder is not None and not (root / folder / raw).is_file():
        error(at, f"`{folder}/{shown(raw)}` is not a file")
        return False
    return raw


def _params(key: str, block: LineDict, error: Any) -> tuple[tuple[str, str], ...] | None:
    raw = block.get("params")
    if raw is None:
        return ()
    at: list[str | int] = ["services", key, "params"]
    if not isinstance(raw, dict):
        error(at, f"`params` must be a mapping of names to values, got {kind_of(raw)}")
        return None
    out: list[tuple[str, str]] = []
    ok = True
    for name, value in raw.items():
        path = [*at, name]
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float | str):
            text = str(value)
        else:
            error(path, f"a param is passed as `--param {name}=…`: a text, not {kind_of(value)}")
            ok = False
            continue
        problem = _variables_problem(text)
        if problem:
            error(
                path,
                problem,
                hint="Compose resolves `${sls:stage}`, `${env:NAME}` and `${service.Output}`",
            )
            ok = False
            continue
        out.append((str(name), text))
    return tuple(out) if ok else None


def _variables_problem(text: str) -> str | None:
    for match in _VARIABLE.finditer(text):
        inner = match.group(1)
        source, colon, address = inner.partition(":")
        if colon:
            if source == "env" and _ENV_NAME.match(address):
                continue
            if inner == "sls:stage":
                continue
            return f"`{match.group(0)}`: Compose does not resolve the `{source}` source"
        _, dot, output = inner.partition(".")
        if not dot or not output or "." in output:
            return f"`{match.group(0)}`: a service's output is written `${{service.Output}}`"
    rest = _VARIABLE.sub("", text)
    if "${" in rest:
        bad = rest[rest.index("${") :][:40]
        return f"`{bad}`: Compose cannot read this variable"
    return None


def _explicit_deps(block: Any) -> list[str]:
    deps = block.get("dependsOn") if isinstance(block, dict) else None
    if isinstance(deps, str):
        return [deps]
    return [d for d in deps if isinstance(d, str)] if isinstance(deps, list) else []


def _cycle(services: list[ComposeService]) -> list[str] | None:
    graph = {s.key: s.depends_on for s in services}
    state: dict[str, int] = {}

    def visit(key: str, trail: list[str]) -> list[str] | None:
        if state.get(key) == 2 or key not in graph:
            return None
        if state.get(key) == 1:
            return [*trail[trail.index(key) :], key]
        state[key] = 1
        for dep in graph[key]:
            found = visit(dep, [*trail, key])
            if found:
                return found
        state[key] = 2
        return None

    for key in graph:
        found = visit(key, [])
        if found:
            return found
    return None
