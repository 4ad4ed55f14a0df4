"""What of a synthesized template the local emulator holds: the resources the functions
talk to, not what the local runtime serves itself; environment expressions as outputs."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from shipway.config.serverless import load_service
from shipway.config.stack_inputs import is_expression
from shipway.synth import synthesize
from shipway.targets.local.emulated_template import emulated_template

SERVICE = """\
service: users
provider:
  name: aws
  runtime: python3.12
  environment:
    TABLE: {Ref: UsersTable}
    TABLE_ARN: {'Fn::GetAtt': [UsersTable, Arn]}
    QUEUE_URL: {Ref: Jobs}
    SELF: {Ref: HelloLambdaFunction}
    PLAIN: hello
functions:
  hello:
    handler: handler.hello
    events:
      - http: GET hello
      - sqs: {arn: {'Fn::GetAtt': [Jobs, Arn]}}
      - sns: alerts
resources:
  Resources:
    UsersTable:
      Type: AWS::DynamoDB::Table
      Properties:
        AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
        KeySchema: [{AttributeName: id, KeyType: HASH}]
        BillingMode: PAY_PER_REQUEST
    Jobs:
      Type: AWS::SQS::Queue
    Uploads:
      Type: AWS::S3::Bucket
      Properties:
        NotificationConfiguration:
          LambdaConfigurations:
            - Event: s3:ObjectCreated:*
              Function: {'Fn::GetAtt': [HelloLambdaFunction, Arn]}
  Outputs:
    TableName: {Value: {Ref: UsersTable}}
"""


def template(tmp_path: Path, text: str = SERVICE) -> dict[str, Any]:
    folder = tmp_path / "users"
    folder.mkdir()
    (folder / "serverless.yml").write_text(textwrap.dedent(text), encoding="utf-8")
    definition = load_service(folder, "users/serverless.yml", stage="dev", env={}, params={})
    return synthesize(definition)


def test_the_emulator_holds_the_resources_not_what_the_runtime_serves(tmp_path: Path) -> None:
    held = emulated_template(template(tmp_path))
    assert held.template is not None
    kinds = {r["Type"] for r in held.template["Resources"].values()}
    assert kinds == {
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::S3::Bucket",
        "AWS::SNS::Topic",
    }
    # the bucket's notification to the function is the local runtime's to deliver
    assert "NotificationConfiguration" not in held.template["Resources"]["Uploads"]["Properties"]
    # and so is the topic's subscription of the function (the emulator would fail a
    # publish, asked to call a function it does not have)
    (topic,) = [r for r in held.template["Resources"].values() if r["Type"] == "AWS::SNS::Topic"]
    assert "Subscription" not in topic["Properties"]
    # the user's outputs are kept; those of what was taken out (ServiceEndpoint …) are not
    assert "TableName" in held.template["Outputs"]
    assert "ServiceEndpoint" not in held.template["Outputs"]


def test_environment_expressions_become_outputs_the_emulator_resolves(tmp_path: Path) -> None:
    held = emulated_template(template(tmp_path))
    assert held.template is not None
    keys = held.env_outputs["users-dev-hello"]
    assert set(keys) == {"TABLE", "TABLE_ARN", "QUEUE_URL", "SELF"}  # not PLAIN
    outputs = held.template["Outputs"]
    assert outputs[keys["TABLE"]]["Value"] == {"Ref": "UsersTable"}
    assert outputs[keys["TABLE_ARN"]]["Value"] == {"Fn::GetAtt": ["UsersTable", "Arn"]}
    assert outputs[keys["SELF"]]["Value"] == "users-dev-hello"  # the function's own name


def test_a_service_of_functions_alone_needs_no_emulated_stack(tmp_path: Path) -> None:
    plain = "service: plain\nprovider: {name: aws, runtime: python3.12}\n"
    plain += "functions:\n  f: {handler: h.f, events: [{http: GET f}]}\n"
    held = emulated_template(template(tmp_path, plain))
    assert held.template is None and held.env_outputs == {}


def test_a_resource_that_needs_what_the_runtime_serves_is_left_out_with_a_note(
    tmp_path: Path,
) -> None:
    alarm = (
        "    Alarm:\n      Type: AWS::CloudWatch::Alarm\n      Properties:\n"
        "        Dimensions: [{Name: ApiName, Value: {Ref: ApiGatewayRestApi}}]\n"
    )
    text = SERVICE.replace("  Outputs:\n", alarm + "  Outputs:\n")
    held = emulated_template(template(tmp_path, text))
    assert held.template is not None and "Alarm" not in held.template["Resources"]
    assert any("`Alarm`" in note and "`ApiGatewayRestApi`" in note for note in held.notes)


def test_expressions_are_recognised_as_the_release_keeps_them() -> None:
    assert is_expression({"Ref": "X"}) and is_expression({"Fn::Sub": "${X}"})
    assert not is_expression({"a": 1, "b": 2}) and not is_expression("text")


def test_only_a_service_with_resources_or_expressions_wants_a_stack() -> None:
    from shipway.config.stack_inputs import resources_digest, wants_stack

    plain = {"functions": {"f": {"handler": "h.f", "events": [{"http": "GET f"}]}}}
    assert not wants_stack(plain) and resources_digest(plain) == ""
    with_table = {**plain, "resources": {"Resources": {"T": {"Type": "AWS::DynamoDB::Table"}}}}
    assert wants_stack(with_table) and resources_digest(with_table) != ""
    topic = {"functions": {"f": {"handler": "h.f", "events": [{"sns": "alerts"}]}}}
    assert wants_stack(topic)  # the Framework makes the topic: the emulator holds it
    imported = {"provider": {"environment": {"Q": {"Fn::ImportValue": "jobs-queue"}}}}
    assert wants_stack(imported) and resources_digest(imported) == ""
