"""What goes into a service's artifacts: buildspec `artifacts` (primary and secondary), the
Serverless Framework's `package.patterns`, and the default build (pip install + package).

Every artifact is a deterministic zip (`artifacts.write_zip`). A secondary artifact
`artifacts.secondary-artifacts.<id>` is written next to the primary one as
`<out_zip stem>.<id>.zip`.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shipway.archive import UnsafeFile, write_zip
from shipway.build.errors import BuildFailed
from shipway.build.patterns import apply_ordered, compile_glob, filter_paths, has_magic
from shipway.build.shell import Processes
from shipway.config.files import climbs_out, is_inside
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

# a file name no pattern names on purpose: a folder link is packaged when this would be
_PROBE = "\x00probe"


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """`$NAME` / `${NAME}` from env (missing: empty), as CodeBuild does in artifact paths."""
    return _VAR_REF.sub(lambda m: env.get(m.group(1) or m.group(2), ""), text)


def list_files(root: Path, confine: Path | None = None) -> list[str]:
    """Every file below root (following symlinks, no loops), as sorted posix paths."""
    return walk_files(root, confine)[0]


def walk_files(root: Path, confine: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """(every file below root, sorted; the symlinks that leave `confine`: path -> target).

    Symlinks are followed as the Serverless Framework follows them (a link to a sibling
    folder packages its files twice, under both names), but never round a loop, and a
    folder link whose target leaves `confine` is not entered (nothing outside is even
    listed); a file link leaving it is listed, for the caller to refuse when it is chosen.
    """
    out: list[str] = []
    outside: dict[str, str] = {}

    if not root.is_dir():
        return out, outside
    top = os.stat(root)
    # a stack, not recursion: a commit may nest folders deeper than Python's recursion limit
    stack: list[tuple[Path, str, frozenset[tuple[int, int]]]] = [
        (root, "", frozenset({(top.st_dev, top.st_ino)}))
    ]
    while stack:
        folder, prefix, ancestors = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            full, rel = Path(entry.path), prefix + entry.name
            try:
                link = entry.is_symlink()
                st = entry.stat()  # follows the link
            except OSError:  # a broken link or a loop between links
                continue
            if link and confine is not None and not is_inside(confine, full):
                if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
                    outside[rel] = os.readlink(full)
                if not stat.S_ISREG(st.st_mode):
                    continue
            if stat.S_ISDIR(st.st_mode):
                here = (st.st_dev, st.st_ino)
                if here not in ancestors:  # a link back up would walk for ever
                    stack.append((full, rel + "/", ancestors | {here}))
            elif stat.S_ISREG(st.st_mode):  # skips sockets, fifos, devices
                out.append(rel)
    out.sort()
    return out, outside


def _refuse_outside(
    outside: dict[str, str], chosen: list[str], selects: Callable[[str], bool], base: str = ""
) -> None:
    """BuildFailed naming the first symlink leaving the service folder that the package
    would hold (a file link chosen, or a folder link below which a file would be chosen)."""
    picked = set(chosen)
    for link, target in sorted(outside.items()):
        if link in picked or selects(f"{link}/{_PROBE}"):
            raise BuildFailed(
                f"`{base}{link}` is a symlink to `{target}`, outside the service folder: "
                "it is not packaged (point it inside the service, or exclude it)"
            )


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
    files, outside = walk_files(service_dir, service_dir)
    chosen = apply_ordered(files, ordered)
    _refuse_outside(outside, chosen, lambda path: bool(apply_ordered([path], ordered)))
    return chosen


def artifact_files(
    service_dir: Path, spec: ArtifactSpec, env: Mapping[str, str], what: str = "artifacts"
) -> Files:
    """The files one `artifacts` block selects (base-directory, files, exclude, discard)."""
    base = service_dir
    if spec.base_directory:
        text = expand_vars(spec.base_directory, env).replace("\\", "/").rstrip("/") or "."
        if text.startswith("/") and is_inside(service_dir, Path(text)):  # $CODEBUILD_SRC_DIR/…
            text = os.path.relpath(Path(text).resolve(), service_dir.resolve())
        _stays_inside(text, f"{what}.base-directory `{spec.base_directory}`")
        if has_magic(text):
            dirs = [d for d in _list_dirs(service_dir) if compile_glob(text).match(d) is not None]
            if len(dirs) != 1:
                found = ", ".join(dirs[:5]) or "none"
                raise BuildFailed(
                    f"{what}.base-directory `{spec.base_directory}` must match exactly one "
                    f"folder; matched {len(dirs)} ({found})"
                )
            text = dirs[0]
        if not is_inside(service_dir, service_dir / text):
            raise BuildFailed(
                f"{what}.base-directory `{spec.base_directory}` is a symlink that leaves the "
                "service folder; refused"
            )
        base = (service_dir / text).resolve()
        if not base.is_dir():
            raise BuildFailed(f"{what}.base-directory `{spec.base_directory}` is not a folder")
    wanted = [expand_vars(p, env) for p in spec.files]
    unwanted = [expand_vars(p, env) for p in spec.exclude_paths]
    for key, pattern in [*(("files", p) for p in wanted), *(("exclude", p) for p in unwanted)]:
        _stays_inside(pattern.replace("\\", "/"), f"{what}.{key} `{pattern}`")

    def selects(path: str) -> bool:
        return bool(filter_paths(wanted, [path])) and not filter_paths(unwanted, [path])

    files, outside = walk_files(base, service_dir)
    chosen = [f for f in files if selects(f)]
    rel_base = os.path.relpath(base, service_dir.resolve())
    _refuse_outside(outside, chosen, selects, "" if rel_base == "." else rel_base + "/")
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


def _stays_inside(path: str, what: str) -> None:
    """A path of the buildspec, relative to the service folder: never absolute, never `..`
    above it (checked again here: variables are expanded only now)."""
    if climbs_out(path):
        raise BuildFailed(
            f"{what} leaves the service folder: artifact paths are relative to it and stay inside"
        )


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
    has_functions: bool = True,
) -> Outputs:
    """What UPLOAD_ARTIFACTS packages: the buildspec's artifacts, or (no `artifacts`) the
    files `package.patterns` selects, as the Serverless Framework would package them (for
    a service with no functions, nothing: the Framework makes no package for it)."""
    if spec.artifacts is None:
        if not has_functions:
            return Outputs({})
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


def zip_files(service: str, files: Files, out: Path, inside: tuple[Path, ...]) -> Artifact:
    """`archive.write_zip`, reading only regular files below `inside` (a sibling build in
    the same workspace may swap a checked file for a link out); BuildFailed otherwise."""
    try:
        return write_zip(service, files, out, tuple(p.resolve() for p in inside))
    except UnsafeFile as exc:
        raise BuildFailed(str(exc)) from None
    except OSError as exc:
        raise BuildFailed(f"cannot package `{exc.filename}`: {exc.strerror or exc}") from None


def write_outputs(
    service: str, out_zip: Path, outputs: Outputs, service_dir: Path
) -> tuple[Artifact, dict[str, Artifact]]:
    primary = zip_files(service, outputs.primary, out_zip, (service_dir,))
    secondary = {
        identifier: zip_files(service, files, secondary_zip(out_zip, identifier), (service_dir,))
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
    has_functions: bool = True,
) -> tuple[Files, str | None]:
    """No buildspec: `pip install -r requirements.txt --target` + the service's files.
    A service with no functions has nothing to package (no code: an empty package).

    Returns the files to zip, or the failure in one line.
    """
    log = procs.log
    log.agent("Entering phase BUILD")
    files: Files = {}
    if not has_functions:
        log.agent("The service has no functions: no code package (its stack has resources only)")
        log.agent("Phase complete: BUILD State: SUCCEEDED")
        return files, None
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
