"""What goes into a service's artifacts: buildspec `artifacts` (primary and secondary), the
Serverless Framework's `package.patterns`, and the default build (pip install + package).

Every artifact is a deterministic zip (`artifacts.write_zip`). A secondary artifact
`artifacts.secondary-artifacts.<id>` is written next to the primary one as
`<out_zip stem>.<id>.zip`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shipway.archive import write_zip
from shipway.build.errors import BuildFailed
from shipway.build.patterns import apply_ordered, compile_glob, filter_paths, has_magic
from shipway.build.shell import Processes
from shipway.model import Artifact, ArtifactSpec, BuildSpec

# The Serverless Framework v3 defaults (lib/plugins/package/lib/package-service.js), plus the
# config file names and `.env*` (the Framework adds those for the file it read / useDotenv).
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git/**",
    ".gitignore",
    ".DS_Store",
    "npm-debug.log",
    "yarn-*.log",
    ".serverless/**",
    ".serverless_plugins/**",
    "serverless.yml",
    "serverless.yaml",
    ".env*",
)

_VAR_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_IDENTIFIER = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]*\Z")

Files = dict[str, Path]  # {name in the zip: file on disk}


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """`$NAME` / `${NAME}` from env (missing: empty), as CodeBuild does in artifact paths."""
    return _VAR_REF.sub(lambda m: env.get(m.group(1) or m.group(2), ""), text)


def list_files(root: Path) -> list[str]:
    """Every file below root (following symlinks, no loops), as sorted posix paths."""
    out: list[str] = []
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        rel = os.path.relpath(dirpath, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.isfile(full):  # skips broken symlinks, sockets …
                out.append(prefix + name)
    out.sort()
    return out


def _list_dirs(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, _ in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            out.append(rel.replace(os.sep, "/"))
        dirnames.sort()
    return sorted(out)


def package_files(
    service_dir: Path, patterns: tuple[str, ...], exclude_files: tuple[str, ...] = ()
) -> list[str]:
    """The service files the Serverless Framework would package, by `package.patterns`."""
    excludes = [*DEFAULT_EXCLUDES, *exclude_files]
    ordered = [p[1:] if p.startswith("!") else "!" + p for p in excludes] + list(patterns)
    return apply_ordered(list_files(service_dir), ordered)


def artifact_files(
    service_dir: Path, spec: ArtifactSpec, env: Mapping[str, str], what: str = "artifacts"
) -> Files:
    """The files one `artifacts` block selects (base-directory, files, exclude, discard)."""
    base = service_dir
    if spec.base_directory:
        text = expand_vars(spec.base_directory, env).replace("\\", "/").rstrip("/") or "."
        if has_magic(text) and not os.path.isabs(text):
            dirs = [d for d in _list_dirs(service_dir) if compile_glob(text).match(d) is not None]
            if len(dirs) != 1:
                found = ", ".join(dirs[:5]) or "none"
                raise BuildFailed(
                    f"{what}.base-directory `{spec.base_directory}` must match exactly one "
                    f"folder; matched {len(dirs)} ({found})"
                )
            text = dirs[0]
        base = (service_dir / text).resolve()
        if not base.is_dir():
            raise BuildFailed(f"{what}.base-directory `{spec.base_directory}` is not a folder")
    files = list_files(base)
    chosen = filter_paths([expand_vars(p, env) for p in spec.files], files)
    if spec.exclude_paths:
        drop = set(filter_paths([expand_vars(p, env) for p in spec.exclude_paths], chosen))
        chosen = [f for f in chosen if f not in drop]
    if not chosen:
        raise BuildFailed(
            f"{what}: no matching artifact paths found for "
            + ", ".join(f"`{p}`" for p in spec.files)
            + (f" in `{spec.base_directory}`" if spec.base_directory else "")
        )
    out: Files = {}
    for rel in chosen:
        name = rel.rsplit("/", 1)[-1] if spec.discard_paths else rel
        if name in out:
            raise BuildFailed(
                f"{what}: discard-paths puts two files at `{name}` ({rel} and another)"
            )
        out[name] = base / rel
    return out


def secondary_zip(out_zip: Path, identifier: str) -> Path:
    """Where secondary artifact `identifier` goes: `<out_zip stem>.<identifier>.zip`."""
    return out_zip.with_name(f"{out_zip.stem}.{identifier}.zip")


@dataclass
class Outputs:
    primary: Files
    secondary: dict[str, Files] = field(default_factory=dict)


def spec_outputs(
    service_dir: Path,
    spec: BuildSpec,
    env: Mapping[str, str],
    package_patterns: tuple[str, ...],
    exclude_files: tuple[str, ...],
) -> Outputs:
    """What UPLOAD_ARTIFACTS packages: the buildspec's artifacts, or (no `artifacts`) the
    files `package.patterns` selects, as the Serverless Framework would package them."""
    if spec.artifacts is None:
        files = {
            rel: service_dir / rel
            for rel in package_files(service_dir, package_patterns, exclude_files)
        }
        if not files:
            raise BuildFailed("the package is empty: no file matches package.patterns")
        return Outputs(files)
    out = Outputs(artifact_files(service_dir, spec.artifacts, env))
    for identifier, one in spec.secondary_artifacts.items():
        if not _IDENTIFIER.match(identifier):
            raise BuildFailed(
                f"artifacts.secondary-artifacts: identifier `{identifier}` cannot name a file "
                "(use letters, digits, `_`, `.` and `-`)"
            )
        what = f"artifacts.secondary-artifacts.{identifier}"
        out.secondary[identifier] = artifact_files(service_dir, one, env, what)
    return out


def write_outputs(
    service: str, out_zip: Path, outputs: Outputs
) -> tuple[Artifact, dict[str, Artifact]]:
    primary = write_zip(service, outputs.primary, out_zip)
    secondary = {
        identifier: write_zip(service, files, secondary_zip(out_zip, identifier))
        for identifier, files in sorted(outputs.secondary.items())
    }
    return primary, secondary


def _requirements_empty(path: Path) -> bool:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = line.split("#", 1)[0].strip() if not line.lstrip().startswith("-") else line
        if text.strip():
            return False
    return True


def default_build(
    procs: Processes,
    service_dir: Path,
    package_patterns: tuple[str, ...],
    exclude_files: tuple[str, ...],
    env: Mapping[str, str],
    tmp: Path,
) -> tuple[Files, str | None]:
    """No buildspec: `pip install -r requirements.txt --target` + the service's files.

    Returns the files to zip, or the failure in one line.
    """
    log = procs.log
    log.agent("Entering phase BUILD")
    files: Files = {}
    requirements = service_dir / "requirements.txt"
    if requirements.is_file() and not _requirements_empty(requirements):
        staging = tmp / "staging"
        staging.mkdir()
        argv = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-r",
            "requirements.txt",
            "--target",
            str(staging),
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
        ]
        log.agent("Running command pip install -r requirements.txt --target <package>")
        rc = procs.spawn(argv, service_dir, env)
        if rc != 0:
            log.agent("Phase complete: BUILD State: FAILED")
            return files, f"phase BUILD: command `pip install -r requirements.txt` exited {rc}"
        for rel in list_files(staging):
            files[rel] = staging / rel
    for rel in package_files(service_dir, package_patterns, exclude_files):
        files[rel] = service_dir / rel
    log.agent("Phase complete: BUILD State: SUCCEEDED")
    if not files:
        return files, "the package is empty: no file matches package.patterns"
    return files, None
