"""`shipway export codepipeline`: an environment's pipeline as a CloudFormation template
for AWS CodePipeline + CodeBuild (export/), checked by cfn-lint before it is written.

The environments are the ones that govern runs (shipway.yml on the control branch), the
services the working tree's. `--all` exports every aws environment, each its own
pipeline; a local one has nothing to run on AWS and is left out (said)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shipway import __version__
from shipway.config.edit import write_atomically
from shipway.errors import ShipwayError
from shipway.export import ExportOptions, pipeline_template
from shipway.export.parts import Source
from shipway.model import AwsTarget, Environment, Project
from shipway.pipeline.plan import environment
from shipway.synth.lint import lint

__all__ = ["Exported", "export_codepipeline", "template_text"]


@dataclass(frozen=True)
class Exported:
    env: str
    template: dict[str, Any]
    path: Path | None = None  # where it was written (None: not written)


def export_codepipeline(
    project: Project,
    envs: dict[str, Environment],
    names: list[str] | None,
    source: Source,
) -> tuple[list[Exported], list[str]]:
    """The templates of the environments `names` (None: every aws one), and notes: one
    line per environment left out, or per thing to know of a template. Raises
    ShipwayError for a named local environment."""
    skipped: list[str] = []
    chosen: list[Environment]
    if names is None:
        chosen = [e for e in envs.values() if isinstance(e.target, AwsTarget)]
        skipped = [
            f"`{e.name}` deploys to the local target: no pipeline for it"
            for e in envs.values()
            if not isinstance(e.target, AwsTarget)
        ]
        if not chosen:
            raise ShipwayError(
                "no environment deploys to AWS: nothing to export",
                hint="give one `target: {aws: {region: …}}` in shipway.yml",
            )
    else:
        chosen = [environment(envs, n) for n in names]
    options = ExportOptions(source=source, version=__version__)
    out = []
    for env in chosen:
        template = pipeline_template(project, env, options)
        findings = lint(template)
        if findings:  # Shipway's own defect: never hand the user a template AWS refuses
            raise ShipwayError(
                f"the `{env.name}` pipeline's template fails cfn-lint: {findings[0]}",
                hint="report this: the export made a template CloudFormation would refuse",
            )
        out.append(Exported(env.name, template))
        notes = template.get("Metadata", {}).get("Shipway", {}).get("Notes", [])
        skipped += [f"`{env.name}`: {n}" for n in notes]
    return out, skipped


#: CloudFormation takes a template body of at most this many bytes with the call; a larger
#: one goes through S3 (`aws cloudformation deploy --s3-bucket`)
INLINE_TEMPLATE_BYTES = 51_200


def template_text(template: dict[str, Any], path: Path | None) -> str:
    """YAML for a `.yml`/`.yaml` file, else JSON — compact when indenting it would pass
    the size CloudFormation takes with the call."""
    if path is not None and path.suffix in (".yml", ".yaml"):
        return yaml.safe_dump(template, sort_keys=False, width=100)
    text = json.dumps(template, indent=2) + "\n"
    if len(text.encode()) > INLINE_TEMPLATE_BYTES:
        text = json.dumps(template, separators=(",", ":")) + "\n"
    return text


def write_templates(exported: list[Exported], out: Path, many: bool) -> list[Exported]:
    """Each template written whole (into the folder `out` when `many`)."""
    written = []
    if many:
        out.mkdir(parents=True, exist_ok=True)
    for e in exported:
        path = (
            out / f"{e.template['Resources']['Pipeline']['Properties']['Name']}.json"
            if many
            else out
        )
        if not many and not path.parent.is_dir():
            raise ShipwayError(f"`{path.parent}` is not a folder: cannot write {path.name}")
        write_atomically(path, template_text(e.template, path))
        written.append(Exported(e.env, e.template, path))
    return written


def upload_wheel(bucket: str, region: str, profile: str | None = None) -> str:
    """A wheel of the running Shipway, built from its source tree, put in `bucket` (the
    exported stack's artifact bucket); its key, for the `ShipwayWheelKey` parameter."""
    import shutil
    import subprocess
    import sys
    import tempfile

    import shipway
    from shipway.archive import sha256_of
    from shipway.targets.aws.client import AwsClient

    source = Path(shipway.__file__).resolve().parents[2]
    pyproject = source / "pyproject.toml"
    if not pyproject.is_file() or 'name = "shipway"' not in pyproject.read_text("utf-8"):
        raise ShipwayError(
            f"this Shipway ({__version__}) was installed as a package, not run from its "
            "source: the template installs it from the index (`ShipwayRequirement`)",
            hint="--upload is for a build of Shipway run from its source tree",
        )
    folder = Path(tempfile.mkdtemp(prefix="shipway-wheel-"))
    try:
        built = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "-q",
                "-w",
                str(folder),
                str(source),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        wheels = sorted(folder.glob("shipway-*.whl"))
        if built.returncode != 0 or not wheels:
            tail = (built.stderr.strip().splitlines() or ["no wheel made"])[-1]
            raise ShipwayError(f"cannot build Shipway's wheel from {source}: {tail}")
        wheel = wheels[0]
        key = f"shipway/{__version__}/{sha256_of(wheel)[:12]}/{wheel.name}"
        AwsClient(region, profile).put_file(bucket, key, wheel, sha256_of(wheel))
        return key
    finally:
        shutil.rmtree(folder, ignore_errors=True)
