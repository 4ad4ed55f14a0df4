"""`shipway export codepipeline`."""

from __future__ import annotations

from pathlib import Path

import click

from shipway.app import App
from shipway.cli.common import err, handle_errors, repo_option
from shipway.export import SOURCES
from shipway.model import AwsTarget
from shipway.usecases.export import (
    export_codepipeline,
    template_text,
    upload_wheel,
    write_templates,
)


@click.group(name="export")
def export_group() -> None:
    """Run the same pipeline elsewhere."""


@export_group.command()
@click.argument("env", required=False)
@click.option("--all", "every", is_flag=True, help="Every aws environment, a pipeline each.")
@click.option(
    "--source",
    type=click.Choice(SOURCES),
    default="codecommit",
    show_default=True,
    help="Where the pipeline takes the commits from.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="The file (.json or .yml) to write; with --all, a folder. Default: standard output.",
)
@click.option(
    "--upload",
    "bucket",
    default=None,
    help="Put this Shipway's wheel in BUCKET (the stack's ArtifactBucketName) for the "
    "builds to install (a build of Shipway run from its source).",
)
@repo_option
@handle_errors
def codepipeline(
    env: str | None,
    every: bool,
    source: str,
    out: Path | None,
    bucket: str | None,
    repo: Path | None,
) -> None:
    """A CloudFormation template that runs ENV's pipeline on AWS CodePipeline (V2) +
    CodeBuild: source, approval, `shipway build`, `shipway deploy`."""
    if every == (env is not None):
        err("error: name one environment, or --all")
        raise SystemExit(2)
    app = App(repo)
    if bucket is not None:
        envs = app.governing()
        target = (envs.get(env or "") or next(iter(envs.values()))).target
        region = target.region if isinstance(target, AwsTarget) else "us-east-1"
        profile = target.profile if isinstance(target, AwsTarget) else None
        key = upload_wheel(bucket, region, profile)
        err(f"uploaded s3://{bucket}/{key}: deploy the stack with ShipwayWheelKey={key}")
        if out is None:
            return
    exported, skipped = export_codepipeline(
        app.project(),
        app.governing(),
        None if every else [env or ""],
        source,  # type: ignore[arg-type]
    )
    for line in skipped:
        err(f"note: {line}")
    if out is None:
        if every and len(exported) > 1:
            err("error: --all makes one template per environment: give --out FOLDER")
            raise SystemExit(2)
        click.echo(template_text(exported[0].template, None), nl=False)
        return
    for written in write_templates(exported, out, many=every):
        resources = len(written.template["Resources"])
        err(f"wrote {written.path}: the `{written.env}` pipeline ({resources} resources)")
    err(
        "then: aws cloudformation deploy --template-file FILE --stack-name NAME "
        "--capabilities CAPABILITY_IAM --parameter-overrides …"
    )
