"""Compose's `params: {x: ${service.Output}}` on an aws target (moto's server on
127.0.0.1): the param is the sibling's stack output, read after that sibling deployed
earlier in the same run.

moto's server keeps a stack's outputs of its creation only (its change sets do not update
them), so the output read is the deployment bucket's, which the stack has from its start;
on AWS any output of the sibling's template is read the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from shipway.app import App
from shipway.model import RunState
from tests.moto import REGION

pytestmark = pytest.mark.usefixtures("aws_env")

HANDLER = "import os\n\ndef f(event, context):\n    return os.environ.get('BUCKET')\n"

FILES = {
    "shipway.yml": (
        "project: queues\nenvironments:\n  prod:\n    branch: main\n"
        f"    target: {{aws: {{region: {REGION}}}}}\n"
    ),
    "serverless-compose.yml": (
        "services:\n  producer:\n    path: producer\n    params:\n"
        "      bucket: ${resources.ServerlessDeploymentBucketName}\n      label: q-${sls:stage}\n"
        "  resources:\n    path: resources\n"
    ),
    "resources/serverless.yml": (
        "service: queues-resources\nprovider:\n  name: aws\n  runtime: python3.12\n"
        "functions:\n  ping:\n    handler: h.f\n"
    ),
    "resources/h.py": HANDLER,
    "producer/serverless.yml": (
        "service: queues-producer\nprovider:\n  name: aws\n  runtime: python3.12\n"
        "  environment:\n    BUCKET: ${param:bucket}\n    LABEL: ${param:label}\n"
        "functions:\n  send:\n    handler: h.f\n"
    ),
    "producer/h.py": HANDLER,
}


def test_a_param_from_a_siblings_output_is_read_after_it_deployed(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(FILES, branches=())
    app = App(repo)
    # validate: the stack does not exist yet; the run reads it once it is deployed
    assert [s.name for s in app.validate()] == ["queues-resources", "queues-producer"]
    result = app.run("prod")
    assert result.run.state == RunState.SUCCEEDED, result.run.error
    cfn = boto3.client("cloudformation", region_name=REGION)
    (stack,) = cfn.describe_stacks(StackName="queues-resources-prod")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    bucket = outputs["ServerlessDeploymentBucketName"]
    assert bucket.startswith("queues-resources-prod-serverlessdeploymentbucket")
    lam = boto3.client("lambda", region_name=REGION)
    config = lam.get_function(FunctionName="queues-producer-prod-send")["Configuration"]
    variables = config["Environment"]["Variables"]
    assert variables["BUCKET"] == bucket
    assert variables["LABEL"] == "q-prod"
