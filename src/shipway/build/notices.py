"""What a local build does differently from CodeBuild, said once in the log.

`runtime-versions`: CodeBuild installs the asked runtime in its managed image and fails the
build on a version the image does not support. This machine is not a CodeBuild image, so
Shipway only reports which of the asked runtimes it has (and their versions) and warns when
one is missing or has another version; the build goes on with what is installed.

`run-as`, `env.git-credential-helper`, `proxy`, `reports`, `batch` and `cache.key` /
`fallback-keys` / `action` are accepted and listed as ignored locally.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping

from shipway.build.logs import BuildLog
from shipway.build.package import expand_vars
from shipway.model import BuildSpec

# runtime name in runtime-versions -> the command that prints this machine's version
PROBES: dict[str, tuple[str, ...]] = {
    "python": ("python3", "--version"),
    "nodejs": ("node", "--version"),
    "java": ("java", "-version"),
    "golang": ("go", "version"),
    "ruby": ("ruby", "--version"),
    "php": ("php", "--version"),
    "dotnet": ("dotnet", "--version"),
    "docker": ("docker", "--version"),
}
_NUMBER = re.compile(r"\d+(?:\.\d+)*")


def probe(runtime: str, env: Mapping[str, str]) -> str | None:
    """This machine's version of `runtime` ("3.11.4"), "" when unreadable, None if absent."""
    argv = PROBES[runtime]
    exe = shutil.which(argv[0], path=env.get("PATH"))
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, *argv[1:]],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (done.stdout + done.stderr).decode("utf-8", errors="replace")
    hit = _NUMBER.search(text)
    return hit.group(0) if hit else ""


def satisfies(runtime: str, requested: str, found: str) -> bool:
    """Whether `found` ("3.11.4") is what `requested` ("3.11", "3.x", "corretto17",
    "latest") asks for: the requested numbers are a prefix of the found ones."""
    want = [int(n) for n in re.findall(r"\d+", requested)]
    if not want or requested.strip().lower() == "latest":
        return True
    have = [int(n) for n in re.findall(r"\d+", found)]
    if runtime == "java" and have[:1] == [1] and len(have) > 1:
        have = have[1:]  # 1.8.0_292 is Java 8
    return have[: len(want)] == want


def report_runtimes(requested: Mapping[str, str], env: Mapping[str, str], log: BuildLog) -> int:
    """Log the asked runtimes against this machine's. Returns the number of warnings."""
    warnings = 0
    for runtime, raw in requested.items():
        version = expand_vars(raw, env)
        if runtime not in PROBES:
            log.agent(
                f"Warning: runtime {runtime} {version} requested; Shipway cannot check it on "
                f"this machine (known: {', '.join(sorted(PROBES))})"
            )
            warnings += 1
            continue
        found = probe(runtime, env)
        command = PROBES[runtime][0]
        if found is None:
            log.agent(
                f"Warning: runtime {runtime} {version} requested, but `{command}` is not "
                "installed on this machine (CodeBuild would install it; the build goes on)"
            )
            warnings += 1
        elif found and not satisfies(runtime, version, found):
            log.agent(
                f"Warning: runtime {runtime} {version} requested; this machine has "
                f"{command} {found} (the build goes on with it)"
            )
            warnings += 1
        else:
            have = found or "(version unknown)"
            log.agent(f"Runtime {runtime} {version} requested; this machine has {command} {have}")
    return warnings


def ignored_locally(spec: BuildSpec) -> list[str]:
    """The buildspec keys this spec uses that a local build does not act on."""
    raw = spec.raw
    env = raw.get("env") if isinstance(raw.get("env"), Mapping) else {}
    cache = raw.get("cache") if isinstance(raw.get("cache"), Mapping) else {}
    out: list[str] = []
    if spec.run_as or any(p.run_as for p in spec.phases):
        out.append("run-as (commands run as the Shipway user)")
    if isinstance(env, Mapping) and "git-credential-helper" in env:
        out.append("env.git-credential-helper (git uses this machine's credentials)")
    if "proxy" in raw:
        out.append("proxy")
    if "reports" in raw:
        groups = raw.get("reports")
        names = ", ".join(str(k) for k in groups) if isinstance(groups, Mapping) else ""
        out.append(f"reports ({names})" if names else "reports")
    if "batch" in raw:
        out.append("batch (one build per service)")
    if isinstance(cache, Mapping):
        extra = [k for k in ("key", "fallback-keys", "action") if k in cache]
        if extra:
            out.append(", ".join(f"cache.{k}" for k in extra) + " (one local cache per service)")
    return out
