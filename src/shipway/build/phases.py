"""The phase state machine of a buildspec build (CodeBuild's "Build phase transitions").

The first failing command stops its phase's `commands`; `finally` still runs; the phase
fails if any executed command failed. An INSTALL or PRE_BUILD failure skips the later
phases *and* UPLOAD_ARTIFACTS (the phase diagram goes straight to FINALIZING); a BUILD
failure still runs POST_BUILD with CODEBUILD_BUILD_SUCCEEDING=0, and UPLOAD_ARTIFACTS is
attempted after it ("The UPLOAD_ARTIFACTS phase is always attempted, even if the BUILD phase
fails"). `on-failure: CONTINUE` goes on to the next phase, but the build still ends FAILED;
`RETRY[-n][-regex]` runs the phase again up to n (default 3) more times while its output
matches regex (default: anything), then acts as ABORT.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from shipway.build.logs import BuildLog
from shipway.build.shell import Session, short
from shipway.model import BuildSpec, Phase

PHASES = ("install", "pre_build", "build", "post_build")
_RETRY = re.compile(r"\ARETRY(?:-(?P<count>\d+))?(?:-(?P<regex>.+))?\Z")


@dataclass
class PhasesOutcome:
    failed: bool = False
    error: str | None = None  # the first failure, in one line
    upload: bool = True  # whether UPLOAD_ARTIFACTS is attempted
    phases: dict[str, str] = field(default_factory=dict)  # marker -> SUCCEEDED | FAILED


def marker(name: str) -> str:
    return name.upper()


def run_phases(s: Session, spec: BuildSpec) -> PhasesOutcome:
    """Run every phase of `spec` in CodeBuild's order; never raises for a command's failure."""
    log = s.procs.log
    out = PhasesOutcome()
    by_name = {p.name: p for p in spec.phases}
    skip_rest = False
    for name in PHASES:
        phase = by_name.get(name)
        if phase is None:
            continue
        mark = marker(name)
        if skip_rest:
            log.agent(f"Phase {mark} skipped: an earlier phase failed")
            continue
        s.procs.current = mark
        log.agent(f"Entering phase {mark}")
        error = _run_phase(s, phase)
        state = "SUCCEEDED" if error is None else "FAILED"
        out.phases[mark] = state
        log.agent(f"Phase complete: {mark} State: {state}")
        if error is None:
            log.agent("Phase context status code:  Message: ")
            continue
        log.agent(f"Phase context status code: COMMAND_EXECUTION_ERROR Message: {error}")
        out.failed = True
        out.error = out.error or error
        s.succeeding = False
        if (phase.on_failure or "ABORT").upper() == "CONTINUE":
            continue
        if name in ("install", "pre_build"):
            skip_rest = True
            out.upload = False
        # a BUILD failure still runs POST_BUILD (CodeBuild); a POST_BUILD failure ends it
    return out


def _run_phase(s: Session, phase: Phase) -> str | None:
    """Run one phase (with retries). Returns the first failure's message, or None."""
    retry = _RETRY.match((phase.on_failure or "ABORT").upper())
    attempts = 1 + (int(retry.group("count") or 3) if retry else 0)
    # the regex is matched as written (upper-casing is only for the policy keyword)
    regex = None
    if retry and phase.on_failure:
        hit = _RETRY.match(phase.on_failure)
        regex = re.compile((hit.group("regex") if hit else None) or ".*")
    error: str | None = None
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            s.procs.log.agent(f"Retrying phase {marker(phase.name)} (attempt {attempt})")
        s.procs.capture = [] if regex is not None else None
        error = _run_once(s, phase)
        output = "\n".join(s.procs.capture or [])
        s.procs.capture = None
        if error is None or regex is None or not regex.search(output):
            break
    return error


def _run_once(s: Session, phase: Phase) -> str | None:
    mark = marker(phase.name)
    log = s.procs.log
    error: str | None = None
    for command in phase.commands:
        rc = s.run(command)
        if rc != 0:
            error = f"phase {mark}: command `{short(command)}` exited {rc}"
            log.agent(f"Command did not exit successfully {command} exit status {rc}")
            break
    for command in phase.finally_commands:
        rc = s.run(command)
        if rc != 0:
            log.agent(f"Command did not exit successfully {command} exit status {rc}")
            if error is None:
                error = f"phase {mark}: finally command `{short(command)}` exited {rc}"
            break
    return error


def exported_variables(
    names: Iterable[str], final_env: Mapping[str, str], secret_names: Iterable[str], log: BuildLog
) -> dict[str, str]:
    """`env.exported-variables` as they stand after POST_BUILD.

    As in CodeBuild, variables starting with `AWS_` and secret variables (parameter-store,
    secrets-manager) are not exported: exported values are shown unmasked by later stages.
    """
    secret = set(secret_names)
    out: dict[str, str] = {}
    for name in names:
        if name.startswith("AWS_") or name in secret:
            why = "starts with AWS_" if name.startswith("AWS_") else "holds a secret"
            log.agent(f"Exported variable {name} is not exported: it {why}")
            continue
        if name in final_env:
            out[name] = final_env[name]
    return out
