"""Services for the AWS target's tests: a serverless.yml on disk, resolved, zipped and
synthesized as the pipeline does, ready to hand to the target as a `DeployInput`."""

from __future__ import annotations

import textwrap
import zipfile
from collections.abc import Mapping
from pathlib import Path

from shipway.archive import sha256_of
from shipway.config.serverless import load_service
from shipway.model import Artifact, DeployInput, DeployRequest, code_key
from shipway.synth.template import synthesize

HANDLER = "def hello(event, context):\n    return {'statusCode': 200, 'body': 'v1'}\n"


def serverless_yml(
    name: str, provider: str = "", functions: str | None = None, tail: str = ""
) -> str:
    """A service's serverless.yml; `provider`: extra provider keys (YAML lines, not
    indented); `tail`: extra top-level sections."""
    functions = functions or textwrap.dedent(
        """\
        functions:
          hello:
            handler: handler.hello
            environment: {GREETING: hi}
            events:
              - http: GET hello
        """
    )
    return (
        textwrap.dedent(
            f"""\
            service: {name}
            provider:
              name: aws
              runtime: python3.12
              region: us-east-1
              stage: dev
            """
        )
        + textwrap.indent(textwrap.dedent(provider), "  ")
        + functions
        + textwrap.dedent(tail)
    )


def make_service(
    root: Path,
    name: str,
    *,
    stage: str = "dev",
    yml: str | None = None,
    files: Mapping[str, str] | None = None,
    depends_on: tuple[str, ...] = (),
) -> DeployInput:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "serverless.yml").write_text(yml or serverless_yml(name), encoding="utf-8")
    definition = load_service(folder, f"{name}/serverless.yml", stage=stage, env={}, params={})
    files = files or {"handler.py": HANDLER}
    zip_path = root / f"{name}-{stage}.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        for rel, text in sorted(files.items()):
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, text)
    sha = sha256_of(zip_path)
    artifact = Artifact(name, zip_path, sha, zip_path.stat().st_size)
    template = synthesize(definition, artifact_key=code_key(name, stage, sha), code_sha256=sha)
    return DeployInput(definition, artifact, depends_on, template)


def request(*services: DeployInput, env: str = "dev", force: bool = False) -> DeployRequest:
    return DeployRequest(env=env, commit="c0ffee", services=tuple(services), force=force)
