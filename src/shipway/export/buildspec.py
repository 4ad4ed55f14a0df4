"""The buildspecs of the exported CodeBuild projects: install Shipway at the version that
exported them, then `shipway build ENV --out DIR` (the Build project) or `shipway deploy
ENV --from DIR` (the Deploy project) — the commands a local run is made of, so the
managed pipeline and the local engine cannot drift apart."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["BUILD_OUTPUT", "SUMMARY_FILE", "build_buildspec", "deploy_buildspec"]

#: the folder `shipway build --out` fills, handed to the Deploy action as an artifact
BUILD_OUTPUT = ".shipway-build"
#: in it, one line: what the build made and why (the approval's `CustomData` shows it)
SUMMARY_FILE = "summary.txt"

_INSTALL = [
    # the wheel `export --upload` put beside the artifacts, else the team's package index
    'if [ -n "$SHIPWAY_WHEEL" ]; then aws s3 cp "$SHIPWAY_WHEEL" /tmp/ '
    '&& pip install -q "/tmp/${SHIPWAY_WHEEL##*/}"; '
    'else pip install -q ${PIP_INDEX_URL:+--index-url "$PIP_INDEX_URL"} "$SHIPWAY_REQUIREMENT"; fi',
    "shipway --version",
]
# an S3 source arrives as a zip, not a clone: Shipway reads its commit from git
_AS_COMMIT = [
    "if ! git rev-parse --git-dir >/dev/null 2>&1; then git init -q "
    "&& git add -A && git -c user.name=codebuild -c user.email=codebuild@localhost "
    'commit -qm "source ${CODEBUILD_RESOLVED_SOURCE_VERSION:-s3}"; fi',
    'git branch -f "$SHIPWAY_BRANCH" HEAD 2>/dev/null || true',
]
_RUNTIMES = {"python": "3.12", "nodejs": "20"}


def build_buildspec() -> str:
    """The Build project's: every service built into BUILD_OUTPUT; the plan's summary
    exported as SHIPWAY_PLAN (what a later approval shows)."""
    spec: dict[str, Any] = {
        "version": 0.2,
        "env": {"shell": "bash", "exported-variables": ["SHIPWAY_PLAN"]},
        "phases": {
            "install": {"runtime-versions": _RUNTIMES, "commands": _INSTALL},
            "pre_build": {"commands": _AS_COMMIT},
            "build": {
                "commands": [
                    f'shipway build "$SHIPWAY_ENV" --commit HEAD --out "{BUILD_OUTPUT}"',
                    # its one-line account of what it built and why, for the approval
                    f'export SHIPWAY_PLAN="$(head -c 400 "{BUILD_OUTPUT}/{SUMMARY_FILE}")"',
                ]
            },
        },
        "artifacts": {"base-directory": BUILD_OUTPUT, "files": ["**/*"]},
        "cache": {"paths": ["/root/.cache/pip/**/*"]},
    }
    return _text(spec)


def deploy_buildspec() -> str:
    """The Deploy project's: the Build action's folder deployed, every service together."""
    spec: dict[str, Any] = {
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": {
            "install": {"runtime-versions": _RUNTIMES, "commands": _INSTALL},
            "pre_build": {"commands": _AS_COMMIT},
            "build": {
                "commands": ['shipway deploy "$SHIPWAY_ENV" --from "$CODEBUILD_SRC_DIR_Build"']
            },
        },
        "cache": {"paths": ["/root/.cache/pip/**/*"]},
    }
    return _text(spec)


def _text(spec: dict[str, Any]) -> str:
    return yaml.safe_dump(spec, sort_keys=False, width=1000)
