"""buildspec.yml (AWS CodeBuild format, version 0.1 / 0.2) -> `model.BuildSpec`.

Every problem is collected and raised at once as `ConfigErrors`, each naming file:line and
the key path, and saying what was expected. Keys CodeBuild knows but Shipway does not act on
(`reports`, `batch`, `proxy`, `cache.key` …) are checked for shape and kept in `raw`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# re-exported: shipway.build and shipway.pipeline import these from here
from shipway.config.buildspec_secrets import SecretRef as SecretRef
from shipway.config.buildspec_secrets import parse_secret_reference as parse_secret_reference
from shipway.config.buildspec_secrets import secret_references as secret_references
from shipway.config.files import climbs_out
from shipway.config.names import path_parts_problem
from shipway.config.yamlsrc import LineDict, key_path, kind_of, line_of, load_yaml
from shipway.errors import ConfigErrors, ShipwayError, Where
from shipway.model import ArtifactSpec, BuildSpec, Phase

PHASE_ORDER = ("install", "pre_build", "build", "post_build")
TOP_KEYS = ("version", "run-as", "env", "proxy", "batch", "phases", "reports", "artifacts", "cache")
ENV_KEYS = (
    "shell",
    "variables",
    "parameter-store",
    "secrets-manager",
    "exported-variables",
    "git-credential-helper",
)
PHASE_KEYS = ("run-as", "on-failure", "runtime-versions", "commands", "finally")
ARTIFACT_KEYS = (
    "files",
    "name",
    "base-directory",
    "discard-paths",
    "exclude-paths",
    "enable-symlinks",
    "s3-prefix",
    "secondary-artifacts",
)
REPORT_KEYS = ("files", "base-directory", "discard-paths", "file-format")
CACHE_KEYS = ("paths", "key", "fallback-keys", "action")
PROXY_KEYS = ("upload-artifacts", "logs")
BATCH_KEYS = ("fast-fail", "build-graph", "build-list", "build-matrix", "build-fanout")
SHELLS = {"bash": "bash", "/bin/bash": "bash", "sh": "sh", "/bin/sh": "sh"}
ON_FAILURE = re.compile(r"\A(?:ABORT|CONTINUE|RETRY(?:-(?P<count>\d+))?(?:-(?P<regex>.+))?)\Z")
_ENV_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")

Path_ = tuple[str | int, ...]


def scalar_text(value: Any) -> str:
    """A YAML scalar as CodeBuild passes it on: `true`, `3.7`, `10`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Checker:
    def __init__(self, doc: Any, display: str) -> None:
        self.doc = doc
        self.display = display
        self.errors: list[ShipwayError] = []

    def error(self, path: Path_, message: str, hint: str | None = None) -> None:
        where = Where(self.display, line_of(self.doc, path), key_path(path) or None)
        self.errors.append(ShipwayError(message, where, hint))

    def get(self, path: Path_) -> Any:
        node = self.doc
        for part in path:
            node = node[part]
        return node

    # -- shapes --------------------------------------------------------------------------

    def mapping(self, path: Path_, allowed: tuple[str, ...] | None = None) -> LineDict | None:
        value = self.get(path)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping, got {kind_of(value)}")
            return None
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    close = difflib.get_close_matches(key, allowed, n=1)
                    hint = f"did you mean `{close[0]}`?" if close else None
                    self.error(
                        (*path, key),
                        f"unknown key `{key}`; expected one of: {', '.join(allowed)}",
                        hint,
                    )
        return value if isinstance(value, LineDict) else None

    def string(self, path: Path_, *, scalars: bool = False) -> str | None:
        value = self.get(path)
        if isinstance(value, str):
            return value
        if scalars and isinstance(value, bool | int | float):
            return scalar_text(value)
        what = "a string or number" if scalars else "a string"
        self.error(path, f"expected {what}, got {kind_of(value)}")
        return None

    def boolean(self, path: Path_) -> bool | None:
        value = self.get(path)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("yes", "no", "true", "false"):
            return value.lower() in ("yes", "true")
        self.error(path, f"expected yes or no, got {kind_of(value)}")
        return None

    def strings(self, path: Path_, *, allow_single: bool = False) -> tuple[str, ...]:
        """A list of strings (null items skipped); a lone string too when `allow_single`."""
        value = self.get(path)
        if value is None:
            return ()
        if allow_single and isinstance(value, str):
            return (value,)
        if not isinstance(value, list):
            self.error(path, f"expected a list of strings, got {kind_of(value)}")
            return ()
        out: list[str] = []
        for i, item in enumerate(value):
            if item is None:
                continue
            if isinstance(item, str):
                out.append(item)
            else:
                self.error((*path, i), f"expected a string, got {kind_of(item)}")
        return tuple(out)

    def str_map(self, path: Path_, *, scalars: bool, names: bool = False) -> dict[str, str]:
        m = self.mapping(path)
        out: dict[str, str] = {}
        if m is None:
            return out
        for key, value in m.items():
            if names and not _ENV_NAME.match(key):
                self.error(
                    (*path, key),
                    f"`{key}` is not a valid environment variable name "
                    "(letters, digits and _, not starting with a digit)",
                )
            if value is None:
                self.error(
                    (*path, key),
                    'expected a value, got nothing (null); write "" for an empty value',
                )
                continue
            text = self.string((*path, key), scalars=scalars)
            if text is not None:
                out[key] = text
        return out

    # -- sections ------------------------------------------------------------------------

    def commands(self, path: Path_) -> tuple[str, ...]:
        value = self.get(path)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.error(
                path,
                f"expected a list of commands, got {kind_of(value)}",
                "write each command as a `- ` list item",
            )
            return ()
        out: list[str] = []
        for i, item in enumerate(value):
            if item is None:  # `- # comment`
                continue
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, bool | int | float):
                out.append(scalar_text(item))
            elif isinstance(item, dict):
                self.error(
                    (*path, i),
                    "expected a command (a string), got a mapping: YAML read `key: value` "
                    "in this command",
                    "quote the whole command, e.g. - 'echo a: b', or use a `|` block",
                )
            else:
                self.error((*path, i), f"expected a command (a string), got {kind_of(item)}")
        return tuple(out)

    def phase(self, name: str) -> Phase | None:
        path: Path_ = ("phases", name)
        allowed = (
            PHASE_KEYS
            if name == "install"
            else tuple(k for k in PHASE_KEYS if k != "runtime-versions")
        )
        m = self.mapping(path, allowed)
        if m is None:
            return Phase(name=name) if self.get(path) is None else None
        on_failure = None
        if "on-failure" in m:
            on_failure = self.string((*path, "on-failure"))
            if on_failure is not None:
                hit = ON_FAILURE.match(on_failure)
                if hit is None:
                    self.error(
                        (*path, "on-failure"),
                        f"unknown on-failure `{on_failure}`; expected ABORT, CONTINUE, RETRY, "
                        "RETRY-<count>, RETRY-<regex> or RETRY-<count>-<regex>",
                    )
                elif hit.group("regex"):
                    try:
                        re.compile(hit.group("regex"))
                    except re.error as exc:
                        self.error((*path, "on-failure"), f"invalid regular expression: {exc}")
        run_as = self.string((*path, "run-as")) if "run-as" in m else None
        runtimes: dict[str, str] = {}
        if "runtime-versions" in m and name == "install":
            runtimes = self.str_map((*path, "runtime-versions"), scalars=True)
        return Phase(
            name=name,
            commands=self.commands((*path, "commands")) if "commands" in m else (),
            finally_commands=self.commands((*path, "finally")) if "finally" in m else (),
            on_failure=on_failure,
            run_as=run_as,
            runtime_versions=runtimes,
        )

    def artifact(self, path: Path_, *, primary: bool) -> ArtifactSpec | None:
        allowed = ARTIFACT_KEYS if primary else ARTIFACT_KEYS[:-1]
        m = self.mapping(path, allowed)
        if m is None:
            if self.get(path) is None:
                self.error(path, "expected a mapping with `files`, got nothing (null)")
            return None
        if "files" not in m:
            self.error(path, "missing `files` (the list of paths to put in the artifact)")
        files = self.strings((*path, "files"), allow_single=True) if "files" in m else ()
        base = (
            self.string((*path, "base-directory")) if m.get("base-directory") is not None else None
        )
        discard = self.boolean((*path, "discard-paths")) if "discard-paths" in m else False
        excludes = (
            self.strings((*path, "exclude-paths"), allow_single=True)
            if "exclude-paths" in m
            else ()
        )
        for key, values in (
            ("base-directory", (base,) if base else ()),
            ("files", files),
            ("exclude-paths", excludes),
        ):
            for value in values:
                if climbs_out(value.replace("\\", "/")):
                    self.error(
                        (*path, key),
                        f"`{value[:80]}` leaves the service folder: artifact paths are "
                        "relative to it and stay inside",
                    )
                elif (problem := path_parts_problem(value)) is not None:
                    self.error((*path, key), problem)
        name = self.string((*path, "name"), scalars=True) if "name" in m else None
        if "enable-symlinks" in m:
            self.boolean((*path, "enable-symlinks"))
        if "s3-prefix" in m:
            self.string((*path, "s3-prefix"))
        return ArtifactSpec(
            files=files,
            base_directory=base,
            discard_paths=bool(discard),
            exclude_paths=excludes,
            name=name,
        )


def parse_buildspec(path: Path, display: str) -> BuildSpec:
    """Read and check one buildspec.yml. `display` names the file in messages."""
    doc = load_yaml(path, display)
    c = _Checker(doc, display)
    if doc is None:
        raise ConfigErrors([ShipwayError("the buildspec is empty", Where(display, 1))])
    if not isinstance(doc, LineDict):
        raise ConfigErrors(
            [ShipwayError(f"expected a mapping at the top, got {kind_of(doc)}", Where(display, 1))]
        )

    # version first: it decides which keys exist
    version: str | None = None
    if "version" not in doc:
        c.error((), "missing `version` (expected 0.2)")
    else:
        raw_version = doc["version"]
        version = scalar_text(raw_version) if isinstance(raw_version, int | float | str) else None
        if version not in ("0.1", "0.2"):
            c.error(
                ("version",),
                f"unsupported buildspec version `{raw_version}`; expected 0.2 (or the older 0.1)",
            )
            version = None
    allowed_top = TOP_KEYS + (("environment_variables",) if version == "0.1" else ())
    c.mapping((), allowed_top)
    version = version or "0.2"

    # env ---------------------------------------------------------------------------------
    shell: str | None = None
    variables: dict[str, str] = {}
    parameter_store: dict[str, str] = {}
    secrets_manager: dict[str, str] = {}
    exported: tuple[str, ...] = ()
    env = c.mapping(("env",), ENV_KEYS) if "env" in doc else None
    if env is not None:
        if "shell" in env:
            sh = c.string(("env", "shell"))
            if sh is not None:
                if sh in SHELLS:
                    shell = SHELLS[sh] if SHELLS[sh] == "bash" else None
                else:
                    c.error(
                        ("env", "shell"),
                        f"unsupported shell `{sh}`; expected bash or /bin/sh "
                        "(powershell.exe and cmd.exe are for Windows images)",
                    )
        if "variables" in env:
            variables = c.str_map(("env", "variables"), scalars=True, names=True)
        if "parameter-store" in env:
            parameter_store = c.str_map(("env", "parameter-store"), scalars=False, names=True)
        if "secrets-manager" in env:
            secrets_manager = c.str_map(("env", "secrets-manager"), scalars=False, names=True)
            for key, reference in secrets_manager.items():
                try:
                    parse_secret_reference(key, reference)
                except ValueError as exc:
                    c.error(("env", "secrets-manager", key), str(exc))
        if "exported-variables" in env:
            exported = c.strings(("env", "exported-variables"))
            for i, name in enumerate(exported):
                if not _ENV_NAME.match(name):
                    c.error(
                        ("env", "exported-variables", i),
                        f"`{name}` is not a valid environment variable name",
                    )
        if "git-credential-helper" in env:
            c.boolean(("env", "git-credential-helper"))
    if version == "0.1" and "environment_variables" in doc:
        ev = c.mapping(("environment_variables",), ("plaintext",))
        if ev is not None and "plaintext" in ev:
            for key, value in c.str_map(
                ("environment_variables", "plaintext"), scalars=True, names=True
            ).items():
                variables.setdefault(key, value)

    run_as = c.string(("run-as",)) if "run-as" in doc else None

    # phases ------------------------------------------------------------------------------
    phases: list[Phase] = []
    if "phases" in doc:
        pm = c.mapping(("phases",), PHASE_ORDER)
        if pm is None and doc["phases"] is None:
            c.error(
                ("phases",),
                "expected a mapping of phases (install, pre_build, build, "
                "post_build), got nothing (null)",
            )
        if pm is not None:
            for name in PHASE_ORDER:
                if name in pm:
                    ph = c.phase(name)
                    if ph is not None:
                        phases.append(ph)
    elif "batch" not in doc:
        c.error((), "missing `phases` (install, pre_build, build, post_build)")

    # artifacts ---------------------------------------------------------------------------
    artifacts: ArtifactSpec | None = None
    secondary: dict[str, ArtifactSpec] = {}
    if "artifacts" in doc:
        artifacts = c.artifact(("artifacts",), primary=True)
        am = doc["artifacts"]
        if isinstance(am, dict) and "secondary-artifacts" in am:
            sm = c.mapping(("artifacts", "secondary-artifacts"))
            if sm is not None:
                for key in sm:
                    spec = c.artifact(("artifacts", "secondary-artifacts", key), primary=False)
                    if spec is not None:
                        secondary[key] = spec

    # cache, reports, proxy, batch: checked, kept in raw -------------------------------------
    cache_paths: tuple[str, ...] = ()
    if "cache" in doc:
        cm = c.mapping(("cache",), CACHE_KEYS)
        if cm is not None:
            if "paths" in cm:
                cache_paths = c.strings(("cache", "paths"))
            if "key" in cm:
                c.string(("cache", "key"))
            if "fallback-keys" in cm:
                c.strings(("cache", "fallback-keys"))
            if "action" in cm:
                c.string(("cache", "action"))
    if "reports" in doc:
        rm = c.mapping(("reports",))
        if rm is not None:
            for key in rm:
                one = c.mapping(("reports", key), REPORT_KEYS)
                if one is None:
                    if rm[key] is None:
                        c.error(("reports", key), "expected a mapping with `files`, got nothing")
                    continue
                if "files" in one:
                    c.strings(("reports", key, "files"), allow_single=True)
                if "base-directory" in one:
                    c.string(("reports", key, "base-directory"))
                if "discard-paths" in one:
                    c.boolean(("reports", key, "discard-paths"))
                if "file-format" in one:
                    c.string(("reports", key, "file-format"))
    if "proxy" in doc:
        px = c.mapping(("proxy",), PROXY_KEYS)
        if px is not None:
            for key in px:
                if key in PROXY_KEYS:
                    c.boolean(("proxy", key))
    if "batch" in doc:
        c.mapping(("batch",), BATCH_KEYS)

    if c.errors:
        raise ConfigErrors(c.errors)
    return BuildSpec(
        file=display,
        version=version,
        phases=tuple(phases),
        shell=shell,
        variables=variables,
        parameter_store=parameter_store,
        secrets_manager=secrets_manager,
        exported_variables=exported,
        run_as=run_as,
        artifacts=artifacts,
        secondary_artifacts=secondary,
        cache_paths=cache_paths,
        raw=_plain(doc),
    )


def _plain(value: Any) -> Any:
    """LineDict/LineList -> dict/list (raw is data for later stages, not line bookkeeping)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
