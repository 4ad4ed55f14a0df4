"""The default build of a Node.js service (no buildspec.yml): npm, never pip.

A service is a Node.js service by its runtimes: it has `nodejs*` functions and no `python*`
ones (the provider's runtime when it has no functions), not by the files it holds. Its build:
  1. with a package.json: `npm ci --omit=dev` when a lockfile (package-lock.json or
     npm-shrinkwrap.json) pins the versions, else `npm install --omit=dev --no-package-lock`
     (with a warning in the log: the versions are whatever the registry has that day);
  2. TypeScript handlers (and every handler, with `serverless-esbuild`) bundled by esbuild
     (esbuild.py) to `<module>.js` at the place the handler path points;
  3. the package: the service's files by `package.patterns` (node_modules included, as the
     Framework includes production dependencies), or, when esbuild bundled, the bundles and
     the service's other files without the TypeScript sources and the bundled node_modules.
npm runs in the build sandbox like any command: HOME is the build's own, its cache is in the
build's scratch folder, and with `build.network: off` it works offline (from that cache).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from shipway.build import esbuild
from shipway.build.package import Files, list_files, package_files
from shipway.build.patterns import apply_ordered
from shipway.build.shell import Processes
from shipway.errors import ShipwayError
from shipway.model import ServiceDefinition

LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")


def is_node_service(definition: ServiceDefinition | None) -> bool:
    if definition is None:
        return False
    runtimes = [fn.runtime for fn in definition.functions] or [definition.runtime]
    # a Java or Go function beside Node.js ones needs no pip either
    node = any(r.startswith("nodejs") for r in runtimes)
    return node and not any(r.startswith("python") for r in runtimes)


def check_node_build(definition: ServiceDefinition, source: str) -> None:
    """The default build can build this service (ShipwayError naming the key if not): read
    by `validate` and by a run before any build starts."""
    if is_node_service(definition):
        esbuild.settings(definition, source)


def npm_command(service_dir: Path) -> list[str]:
    if any((service_dir / name).is_file() for name in LOCKFILES):
        return ["npm", "ci", "--omit=dev"]
    return ["npm", "install", "--omit=dev", "--no-package-lock"]


def npm_environment(env: Mapping[str, str], scratch: Path, network: bool) -> dict[str, str]:
    out = dict(env)
    out.setdefault("npm_config_cache", str(scratch / "npm-cache"))
    out.setdefault("npm_config_update_notifier", "false")
    out.setdefault("npm_config_fund", "false")
    out.setdefault("npm_config_audit", "false")
    if not network:
        out.setdefault("npm_config_offline", "true")  # fail fast, from the cache only
    return out


def _npm(
    procs: Processes, service_dir: Path, env: Mapping[str, str], scratch: Path, network: bool
) -> str | None:
    log = procs.log
    argv = npm_command(service_dir)
    if argv[1] == "install":
        log.agent(
            "Warning: no package-lock.json or npm-shrinkwrap.json: `npm install` picks the "
            "versions the registry has today (commit a lockfile for reproducible builds)"
        )
    if shutil.which("npm", path=env.get("PATH")) is None:
        return "npm is not installed: a Node.js service with a package.json needs npm (and node)"
    shown = " ".join(argv)
    log.agent(f"Running command {shown}")
    rc = procs.spawn(argv, service_dir, npm_environment(env, scratch, network))
    if rc != 0:
        return f"phase BUILD: command `{shown}` exited {rc}"
    return None


def _bundle(
    procs: Processes,
    definition: ServiceDefinition,
    service_dir: Path,
    env: Mapping[str, str],
    out: Path,
) -> tuple[Files, str | None]:
    found = esbuild.entries(definition, service_dir)
    if not found:
        return {}, None
    tool = esbuild.find_esbuild(service_dir)
    if tool is None:
        handlers = ", ".join(e.source for e in found)
        return {}, f"esbuild is not installed: {handlers} must be built with esbuild; " + (
            esbuild.INSTALL_HINT
        )
    chosen = esbuild.settings(definition)
    bundles: Files = {}
    for entry in found:
        outfile = out / (entry.module + ".js")
        argv = esbuild.argv(tool, entry, outfile, chosen)
        procs.log.agent(f"Running command esbuild {' '.join(argv[1:])}")
        rc = procs.spawn(argv, service_dir, env)
        if rc != 0:
            return {}, f"phase BUILD: esbuild of {entry.source} exited {rc}"
    for rel in list_files(out):
        bundles[rel] = out / rel
    return bundles, None


def node_default_build(
    procs: Processes,
    definition: ServiceDefinition,
    service_dir: Path,
    package_patterns: tuple[str, ...],
    exclude_files: tuple[str, ...],
    env: Mapping[str, str],
    tmp: Path,
    network: bool,
) -> tuple[Files, str | None]:
    """Returns the files to zip, or the failure in one line."""
    log = procs.log
    log.agent("Entering phase BUILD")
    try:
        esbuild.settings(definition)
    except ShipwayError as exc:  # checked before the run; a direct caller hears it here
        return {}, str(exc)
    error = None
    if (service_dir / "package.json").is_file():
        error = _npm(procs, service_dir, env, tmp, network)
    bundles: Files = {}
    if error is None:
        bundles, error = _bundle(procs, definition, service_dir, env, tmp / "esbuild")
    if error is not None:
        log.agent("Phase complete: BUILD State: FAILED")
        return {}, error
    chosen = package_files(service_dir, package_patterns, exclude_files)
    if bundles:
        drop = [f"!**/*{ext}" for ext in esbuild.TYPESCRIPT]
        settings = esbuild.settings(definition)
        if not settings.keeps_node_modules:
            drop.append("!node_modules/**")
        drop += [f"!node_modules/{name}/**" for name in settings.exclude]
        chosen = apply_ordered(chosen, drop)
    files: Files = {rel: service_dir / rel for rel in chosen}
    files.update(bundles)
    log.agent("Phase complete: BUILD State: SUCCEEDED")
    if not files:
        return files, "the package is empty: no file matches package.patterns"
    return files, None


__all__ = ["LOCKFILES", "check_node_build", "is_node_service", "node_default_build", "npm_command"]
