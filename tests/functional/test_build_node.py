"""The default build of a Node.js service: real npm (offline, from local packages) and real
esbuild, in the build sandbox where bubblewrap is installed; never pip."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from shipway.build import esbuild
from shipway.build.runner import BuildRequest, run_build
from shipway.errors import ShipwayError
from shipway.model import BuildResult, Function, JobState, ServiceDefinition

needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")


def tgz(files: dict[str, str]) -> bytes:
    """An npm package tarball (what `npm pack` makes), built here: no registry needed."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo("package/" + name)
            info.size, info.mode = len(data), 0o644
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def package(name: str, body: str) -> bytes:
    manifest = json.dumps({"name": name, "version": "1.0.0", "main": "index.js"})
    return tgz({"package.json": manifest, "index.js": body})


def node_project(service_dir: Path, lockfile: bool = True) -> None:
    """package.json with one dependency and one dev dependency, both local tarballs."""
    vendor = service_dir / "vendor"
    vendor.mkdir(parents=True)
    tarballs = {
        "greet": package("greet", "module.exports = (n) => `hello ${n}`;\n"),
        "devtool": package("devtool", "module.exports = 1;\n"),
    }
    for name, data in tarballs.items():
        (vendor / f"{name}-1.0.0.tgz").write_bytes(data)
    deps = {"greet": "file:vendor/greet-1.0.0.tgz"}
    dev = {"devtool": "file:vendor/devtool-1.0.0.tgz"}
    manifest = {"name": "svc", "version": "1.0.0", "dependencies": deps, "devDependencies": dev}
    (service_dir / "package.json").write_text(json.dumps(manifest))
    if not lockfile:
        return
    packages: dict[str, object] = {"": {"name": "svc", "version": "1.0.0", **manifest}}
    for name, data in tarballs.items():
        digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
        entry = {
            "version": "1.0.0",
            "resolved": f"file:vendor/{name}-1.0.0.tgz",
            "integrity": f"sha512-{digest}",
        }
        packages[f"node_modules/{name}"] = {**entry, **({"dev": True} if name in dev else {})}
    lock = {"name": "svc", "version": "1.0.0", "lockfileVersion": 3, "requires": True}
    (service_dir / "package-lock.json").write_text(json.dumps({**lock, "packages": packages}))


def definition(
    *handlers: str, runtime: str = "nodejs18.x", **resolved: object
) -> ServiceDefinition:
    functions = tuple(Function(f"f{i}", h, runtime, 6, 128, {}) for i, h in enumerate(handlers))
    return ServiceDefinition("svc", "dev", "us-east-1", runtime, functions, resolved=resolved)


def build(
    tmp_path: Path, files: dict[str, str], sd: ServiceDefinition, network: bool = True
) -> tuple[BuildResult, str, Path]:
    service_dir = tmp_path / "ws" / "services" / "svc"
    service_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (service_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (service_dir / name).write_text(text)
    req = BuildRequest(
        service="svc",
        service_dir=service_dir,
        workspace=tmp_path / "ws",
        buildspec=None,
        env={"PATH": os.environ["PATH"]},
        build_vars={},
        package_patterns=(),
        exclude_files=(),
        out_zip=tmp_path / "out" / "svc.zip",
        log_path=tmp_path / "build.log",
        timeout_s=120,
        network=network,
        definition=sd,
    )
    result = run_build(req)
    return result, (tmp_path / "build.log").read_text(), service_dir


def names(result: BuildResult) -> set[str]:
    assert result.artifact is not None
    with zipfile.ZipFile(result.artifact.path) as zf:
        return set(zf.namelist())


def run_node(package_zip: Path, tmp: Path, script: str) -> str:
    folder = tmp / "unpacked"
    with zipfile.ZipFile(package_zip) as zf:
        zf.extractall(folder)
    done = subprocess.run(
        ["node", "-e", script], cwd=folder, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@needs_npm
def test_npm_ci_installs_production_dependencies_offline_and_never_runs_pip(
    tmp_path: Path,
) -> None:
    service_dir = tmp_path / "ws" / "services" / "svc"
    node_project(service_dir)
    files = {
        "handler.js": "const greet = require('greet');\n"
        "exports.main = async (e) => greet(e.name);\n",
        "requirements.txt": "this-package-does-not-exist==1.0\n",  # pip would fail on it
    }
    result, log, _ = build(tmp_path, files, definition("handler.main"), network=False)
    assert result.state is JobState.SUCCEEDED, log
    assert "Running command npm ci --omit=dev" in log
    assert "pip" not in log
    got = names(result)
    assert {"handler.js", "package.json", "node_modules/greet/index.js"} <= got
    assert not any(n.startswith("node_modules/devtool") for n in got)  # a dev dependency
    assert result.artifact is not None
    script = "require('./handler').main({name: 'ada'}).then(console.log)"
    assert run_node(result.artifact.path, tmp_path, script) == "hello ada"


@needs_npm
def test_without_a_lockfile_npm_install_runs_and_says_versions_are_not_pinned(
    tmp_path: Path,
) -> None:
    service_dir = tmp_path / "ws" / "services" / "svc"
    node_project(service_dir, lockfile=False)
    files = {"handler.js": "exports.main = async () => require('greet')('x');\n"}
    result, log, service_dir = build(tmp_path, files, definition("handler.main"))
    assert result.state is JobState.SUCCEEDED, log
    assert "Running command npm install --omit=dev --no-package-lock" in log
    assert "no package-lock.json or npm-shrinkwrap.json" in log
    assert not (service_dir / "package-lock.json").exists()  # the source stays as committed
    assert "node_modules/greet/index.js" in names(result)


@needs_npm
def test_a_failing_npm_fails_the_build_naming_the_command(tmp_path: Path) -> None:
    files = {
        "handler.js": "exports.main = async () => 1;\n",
        "package.json": json.dumps({"name": "svc", "dependencies": {"x": "file:missing.tgz"}}),
    }
    result, _, _ = build(tmp_path, files, definition("handler.main"), network=False)
    assert result.state is JobState.FAILED
    assert result.error is not None
    assert result.error.startswith("phase BUILD: command `npm install --omit=dev")


def test_a_node_service_without_package_json_is_packaged_as_it_is(tmp_path: Path) -> None:
    files = {"handler.js": "exports.main = async () => 1;\n", "requirements.txt": "nope==1\n"}
    result, log, _ = build(tmp_path, files, definition("handler.main"))
    assert result.state is JobState.SUCCEEDED, log
    assert names(result) == {"handler.js", "requirements.txt"}
    assert "npm" not in log and "pip" not in log


TS_HANDLER = """
import { shout } from "./lib/words";
const greet = require("greet");
export const main = async (event: { name: string }): Promise<string> =>
  shout(greet(event.name));
"""
TS_LIB = "export function shout(s: string): string { return s.toUpperCase(); }\n"


def _esbuild_or_skip() -> None:
    if esbuild.find_esbuild(Path("/nonexistent")) is None:
        pytest.skip(
            f"esbuild is not installed (CI installs it and sets {esbuild.ENV_VAR}): "
            + esbuild.INSTALL_HINT
        )


@needs_npm
def test_typescript_handlers_are_bundled_with_esbuild(tmp_path: Path) -> None:
    _esbuild_or_skip()
    service_dir = tmp_path / "ws" / "services" / "svc"
    node_project(service_dir)
    files = {"src/handler.ts": TS_HANDLER, "src/lib/words.ts": TS_LIB, "tsconfig.json": "{}"}
    sd = definition("src/handler.main", plugins=["serverless-esbuild"])
    result, log, _ = build(tmp_path, files, sd, network=False)
    assert result.state is JobState.SUCCEEDED, log
    assert "--platform=node --target=node18 --format=cjs" in log
    got = names(result)
    assert "src/handler.js" in got
    assert not any(n.endswith(".ts") for n in got)  # sources stay out
    assert not any(n.startswith("node_modules/") for n in got)  # bundled in
    assert "src/handler.js.map" not in got  # no source maps by default
    assert result.artifact is not None
    script = "require('./src/handler').main({name: 'ada'}).then(console.log)"
    assert run_node(result.artifact.path, tmp_path, script) == "HELLO ADA"


def test_custom_esbuild_settings_are_used(tmp_path: Path) -> None:
    _esbuild_or_skip()
    files = {"src/handler.ts": "export const main = async (): Promise<number> => 41 + 1;\n"}
    custom = {"esbuild": {"minify": True, "sourcemap": True, "target": "node20"}}
    sd = definition("src/handler.main", custom=custom)  # a .ts handler: built without plugin
    result, log, _ = build(tmp_path, files, sd)
    assert result.state is JobState.SUCCEEDED, log
    assert "--target=node20" in log and "--minify" in log and "--sourcemap" in log
    assert {"src/handler.js", "src/handler.js.map"} <= names(result)


def test_an_unknown_custom_esbuild_key_is_refused_naming_it() -> None:
    sd = definition("src/handler.main", custom={"esbuild": {"plugins": "./plugins.js"}})
    with pytest.raises(ShipwayError) as exc:
        esbuild.settings(sd, "services/svc/serverless.yml")
    assert "not supported by Shipway's esbuild build" in exc.value.message
    assert exc.value.where is not None and exc.value.where.key == "custom.esbuild.plugins"


def test_without_esbuild_a_typescript_build_fails_naming_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(esbuild.ENV_VAR, str(tmp_path / "no-esbuild-here"))
    files = {"src/handler.ts": "export const main = async () => 1;\n"}
    result, _, _ = build(tmp_path, files, definition("src/handler.main"))
    assert result.state is JobState.FAILED
    assert result.error is not None
    assert result.error.startswith("esbuild is not installed: src/handler.ts must be built")
    assert "npm install --prefix ~/.cache/shipway-esbuild esbuild@0.28.2" in result.error
