"""TypeScript (and bundled JavaScript) handlers, built with esbuild as `serverless-esbuild` does.

Which handlers: with the `serverless-esbuild` plugin listed, every Node.js handler (its entry
is the first of `<module>.ts`, `.js`, `.jsx`, `.tsx` that exists, the plugin's order); without
it, a handler whose module exists only as TypeScript (`src/handler.ts` for
`handler: src/handler.main`). Each entry is bundled to `<module>.js` at the same place in the
package (where the handler path points), platform node, target from the function's runtime
(`nodejs18.x` -> `node18`), format cjs, no source maps, `aws-sdk` left out: the plugin's
defaults. `custom.esbuild` may set `bundle`, `minify`, `external`, `exclude`, `target`,
`format` and `sourcemap`; any other key is refused, named.

esbuild comes from npm and is never downloaded by a build: the service's own
`node_modules/.bin/esbuild` (installed by its build), else `$SHIPWAY_ESBUILD`, else `esbuild`
on PATH.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.errors import ShipwayError, Where
from shipway.model import Function, ServiceDefinition

PLUGIN = "serverless-esbuild"
ENV_VAR = "SHIPWAY_ESBUILD"
ENTRY_EXTENSIONS = (".ts", ".js", ".jsx", ".tsx")  # serverless-esbuild's DEFAULT_EXTENSIONS
TYPESCRIPT = (".ts", ".tsx", ".mts", ".cts")
_RUNNABLE = (".js", ".mjs", ".cjs")
SUPPORTED_KEYS = ("bundle", "minify", "external", "exclude", "target", "format", "sourcemap")
_SOURCEMAPS = ("inline", "external", "linked", "both")
INSTALL_HINT = (
    "install esbuild from npm (`npm install --prefix ~/.cache/shipway-esbuild esbuild@0.28.2`) "
    f"and set {ENV_VAR}=~/.cache/shipway-esbuild/node_modules/.bin/esbuild, or add esbuild to "
    "the service's dependencies"
)


@dataclass(frozen=True)
class EsbuildSettings:
    bundle: bool = True
    minify: bool = False
    external: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ("aws-sdk",)
    target: str | None = None  # None: from each function's runtime
    format: str = "cjs"
    sourcemap: bool | str = False

    @property
    def keeps_node_modules(self) -> bool:
        """Unbundled code, or packages left external, need node_modules in the package."""
        return not self.bundle or bool(self.external)


@dataclass(frozen=True)
class Entry:
    module: str  # the handler's module path in the package, without extension
    source: str  # the entry file, relative to the service folder
    target: str  # esbuild's --target


def _plugins(resolved: Mapping[str, Any]) -> list[str]:
    value = resolved.get("plugins") or []
    if isinstance(value, dict):
        value = value.get("modules") or []
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _strings(value: Any, key: str, source: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ShipwayError(f"`{key}` must be a list of package names", Where(source, key=key))
    return tuple(value)


def settings(definition: ServiceDefinition, source: str = "serverless.yml") -> EsbuildSettings:
    """`custom.esbuild` as Shipway's esbuild build reads it (ShipwayError naming the key)."""
    custom = definition.resolved.get("custom") or {}
    raw = custom.get("esbuild") if isinstance(custom, dict) else None
    if raw is None:
        return EsbuildSettings()
    if not isinstance(raw, dict):
        where = Where(source, key="custom.esbuild")
        raise ShipwayError("`custom.esbuild` must be a mapping", where)
    for key in raw:
        if key not in SUPPORTED_KEYS:
            raise ShipwayError(
                "this setting is not supported by Shipway's esbuild build",
                Where(source, key=f"custom.esbuild.{key}"),
                hint="supported: " + ", ".join(SUPPORTED_KEYS) + "; or build with a buildspec.yml",
            )
    out = EsbuildSettings()
    for key in ("bundle", "minify"):
        if key in raw and not isinstance(raw[key], bool):
            raise ShipwayError(
                f"`custom.esbuild.{key}` must be true or false",
                Where(source, key=f"custom.esbuild.{key}"),
            )
    fmt = raw.get("format", "cjs")
    if fmt not in ("cjs", "esm"):
        raise ShipwayError(
            "`custom.esbuild.format` must be `cjs` or `esm`",
            Where(source, key="custom.esbuild.format"),
        )
    sourcemap = raw.get("sourcemap", False)
    if not isinstance(sourcemap, bool) and sourcemap not in _SOURCEMAPS:
        raise ShipwayError(
            "`custom.esbuild.sourcemap` must be true, false, inline, external, linked or both",
            Where(source, key="custom.esbuild.sourcemap"),
        )
    target = raw.get("target")
    if target is not None and not isinstance(target, str):
        raise ShipwayError(
            "`custom.esbuild.target` must be a string such as node18",
            Where(source, key="custom.esbuild.target"),
        )
    exclude = out.exclude
    if "exclude" in raw:
        exclude = _strings(raw["exclude"], "custom.esbuild.exclude", source)
        if "*" in exclude:
            raise ShipwayError(
                "`custom.esbuild.exclude: ['*']` is not supported by Shipway's esbuild build",
                Where(source, key="custom.esbuild.exclude"),
                hint="list the packages to leave out by name",
            )
    external = (
        _strings(raw["external"], "custom.esbuild.external", source) if ("external" in raw) else ()
    )
    return EsbuildSettings(
        bundle=raw.get("bundle", True),
        minify=raw.get("minify", False),
        external=external,
        exclude=exclude,
        target=target,
        format=fmt,
        sourcemap=sourcemap,
    )


def _module(handler: str) -> str:
    """Node.js splits the handler's last path segment at its first `.`."""
    folder, _, last = handler.rpartition("/")
    return (folder + "/" if folder else "") + last.split(".", 1)[0]


def _target(fn: Function) -> str:
    digits = fn.runtime.removeprefix("nodejs").split(".", 1)[0]
    return f"node{digits}" if digits.isdigit() else "node18"


def entries(definition: ServiceDefinition, service_dir: Path) -> list[Entry]:
    """The handlers to build with esbuild, one entry per module."""
    plugin = PLUGIN in _plugins(definition.resolved)
    chosen = settings(definition)
    found: dict[str, Entry] = {}
    for fn in definition.functions:
        if not fn.runtime.startswith("nodejs") or "." not in fn.handler:
            continue
        module = _module(fn.handler)
        if module in found:
            continue
        if plugin:
            exts = ENTRY_EXTENSIONS
            source = next((e for e in exts if (service_dir / (module + e)).is_file()), None)
        elif any((service_dir / (module + e)).is_file() for e in _RUNNABLE):
            source = None
        else:
            source = next((e for e in TYPESCRIPT if (service_dir / (module + e)).is_file()), None)
        if source is not None:
            found[module] = Entry(module, module + source, chosen.target or _target(fn))
    return list(found.values())


def find_esbuild(service_dir: Path) -> str | None:
    own = service_dir / "node_modules" / ".bin" / "esbuild"
    if own.is_file() and os.access(own, os.X_OK):
        return str(own)
    configured = os.environ.get(ENV_VAR)
    if configured:
        path = Path(configured).expanduser()
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which("esbuild")


def tool_root(esbuild: str) -> Path:
    """The folder the esbuild install lives in (its npm package), for the sandbox to show."""
    real = Path(os.path.realpath(esbuild))
    for parent in real.parents:
        if parent.name == "node_modules":
            return parent
    return real.parent


def argv(esbuild: str, entry: Entry, outfile: Path, chosen: EsbuildSettings) -> list[str]:
    args = [esbuild, entry.source, f"--outfile={outfile}", "--platform=node"]
    args += [f"--target={entry.target}", f"--format={chosen.format}", "--log-level=warning"]
    if chosen.bundle:
        args.append("--bundle")
        args += [f"--external:{name}" for name in (*chosen.external, *chosen.exclude)]
    if chosen.minify:
        args.append("--minify")
    if chosen.sourcemap is True:
        args.append("--sourcemap")
    elif chosen.sourcemap:
        args.append(f"--sourcemap={chosen.sourcemap}")
    return args


__all__ = [
    "ENV_VAR",
    "INSTALL_HINT",
    "PLUGIN",
    "Entry",
    "EsbuildSettings",
    "argv",
    "entries",
    "find_esbuild",
    "settings",
    "tool_root",
]
