"""eventBridge, per-function IAM roles, a shared HTTP API, HTTP API access logs and Lambda
tracing, `integration: lambda`, `s3: {existing: true}` and the API logs that need the Framework's
custom resources compared with `serverless package`
v3.40.0 (SHIPWAY_SLS_ORACLE) and linted with cfn-lint.

The per-function roles and tracing cases run the real serverless-iam-roles-per-function and
serverless-plugin-tracing plugins: they are looked for next to the oracle (`.ci/run`
installs them there) or, for the roles plugin, in $SHIPWAY_IAM_PLUGIN_DIR.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from shipway.config.serverless import load_service
from shipway.synth import synthesize
from shipway.synth.lint import lint
from tests.functional.test_synth_oracle import ORACLE, _bench

pytestmark = pytest.mark.skipif(
    not (ORACLE and Path(ORACLE).is_file() and shutil.which("node")),
    reason="SHIPWAY_SLS_ORACLE (serverless@3.40.0) not available",
)

HEAD = """\
service: {name}
frameworkVersion: '3'
provider:
  name: aws
  runtime: python3.12
"""

CASES: dict[str, str] = {
    "eventbridge": """\
functions:
  onOrder:
    handler: app.handler
    events:
      - eventBridge:
          pattern:
            source: [shop.orders]
            detail-type: [OrderPlaced]
      - eventBridge:
          eventBus: orders-bus
          pattern:
            source: [shop.orders]
          retryPolicy:
            maximumEventAge: 3600
            maximumRetryAttempts: 2
          deadLetterQueueArn: arn:aws:sqs:us-east-1:123456789012:dlq
          inputPath: '$.detail'
      - eventBridge:
          eventBus: arn:aws:events:us-east-1:123456789012:event-bus/shared
          schedule: rate(10 minutes)
          name: my-rule
          description: hello
          enabled: false
          input:
            key: value
      - eventBridge:
          eventBus: default
          pattern:
            detail:
              amount: [{numeric: ['>', 10]}]
          inputTransformer:
            inputPathsMap:
              src: '$.source'
            inputTemplate: '{"s": <src>}'
  long-fn_name:
    handler: app.handler
    name: eventbridge-dev-a-function-name-long-enough-to-hash-its-rule
    events:
      - http: GET /x
      - eventBridge:
          eventBus: {Ref: SomeBus}
          pattern:
            $or:
              - source: [a]
              - detail-type: [b]
resources:
  Resources:
    SomeBus:
      Type: AWS::Events::EventBus
      Properties:
        Name: some-bus
""",
    "logs-tracing": """\
  logRetentionInDays: 7
  tracing:
    lambda: true
  logs:
    httpApi: true
    frameworkLambda: true
functions:
  api:
    handler: app.handler
    events:
      - httpApi: GET /y
  other:
    handler: app.handler
    tracing: PassThrough
""",
    "rest-logs": """\
  logRetentionInDays: 14
  logs:
    restApi:
      roleManagedExternally: true
      format: '$context.requestId'
      level: ERROR
functions:
  api:
    handler: app.handler
    events:
      - http: GET /y
""",
    "rest-logs-role": """\
  logs:
    restApi: true
functions:
  api:
    handler: app.handler
    events:
      - http: GET /y
""",
    "rest-logs-given-role": """\
  logs:
    restApi:
      role: arn:aws:iam::123456789012:role/apigw-logs
      executionLogging: false
    frameworkLambda: true
functions:
  api:
    handler: app.handler
    events:
      - http: GET /y
""",
    "websocket-logs": """\
  logRetentionInDays: 7
  logs:
    websocket:
      level: ERROR
      format: '$context.requestId $context.routeKey'
      fullExecutionData: false
functions:
  socket:
    handler: app.handler
    events:
      - websocket: $connect
      - websocket: $default
""",
    "websocket-logs-off": """\
  logs:
    websocket:
      accessLogging: false
      executionLogging: false
    restApi:
      roleManagedExternally: true
functions:
  socket:
    handler: app.handler
    events:
      - websocket: $connect
""",
    "s3-existing": """\
  logs:
    frameworkLambda: true
functions:
  thumbs:
    handler: app.handler
    events:
      - s3:
          bucket: photos-upload-bucket
          event: s3:ObjectCreated:*
          existing: true
          rules:
            - prefix: uploads/
            - suffix: .jpg
      - s3:
          bucket: photos-upload-bucket
          event: s3:ObjectRemoved:*
          existing: true
  audit:
    handler: app.handler
    events:
      - s3:
          bucket: photos-upload-bucket
          existing: true
          forceDeploy: true
  archive:
    handler: app.handler
    events:
      - s3:
          bucket: {Ref: ArchiveBucket}
          existing: true
      - s3: own-bucket-of-the-stack
resources:
  Resources:
    ArchiveBucket:
      Type: AWS::S3::Bucket
""",
    "logs-format": """\
  logs:
    httpApi:
      format: '$context.requestId $context.status'
functions:
  api:
    handler: app.handler
    events:
      - httpApi: GET /y
""",
    "shared-http-api": """\
  httpApi:
    id: abc123xyz
    payload: '1.0'
functions:
  api:
    handler: app.handler
    events:
      - httpApi: GET /y
      - httpApi:
          method: POST
          path: /z
""",
    "roles-per-function": """\
  iam:
    role:
      statements:
        - Effect: Allow
          Action: s3:GetObject
          Resource: '*'
plugins:
  - serverless-iam-roles-per-function
functions:
  reader:
    handler: app.handler
    iamRoleStatementsInherit: true
    iamRoleStatements:
      - Effect: Allow
        Action: [dynamodb:GetItem]
        Resource: arn:aws:dynamodb:us-east-1:123456789012:table/t
    events:
      - sqs: arn:aws:sqs:us-east-1:123456789012:q
      - stream: arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2020
  plain:
    handler: app.handler
  named:
    handler: app.handler
    iamRoleStatementsName: my-named-role
    vpc:
      securityGroupIds: [sg-0123456789abcdef0]
      subnetIds: [subnet-0123456789abcdef0]
    iamRoleStatements:
      - Effect: Allow
        Action: sns:Publish
        Resource: '*'
""",
    "lambda-integration": """\
functions:
  plain:
    handler: app.handler
    events:
      - http:
          path: items/{id}
          method: get
          integration: lambda
  custom:
    handler: app.handler
    events:
      - http:
          path: items
          method: post
          integration: lambda
          cors: true
          request:
            passThrough: WHEN_NO_TEMPLATES
            template:
              application/json: '{"id": "$input.params(''id'')"}'
              application/x-www-form-urlencoded: null
          response:
            headers:
              Cache-Control: "'max-age=60'"
            template: $input.path('$.body')
            statusCodes:
              201:
                pattern: ''
              409:
                pattern: '.*"conflict".*'
                template: $input.path('$.errorMessage')
                headers:
                  X-Why: "'conflict'"
""",
    # the plugin overwrites what provider.tracing.lambda set: `{lambda: true}` is not `true`
    "plugin-tracing": """\
  tracing:
    lambda: true
plugins:
  - serverless-plugin-tracing
functions:
  inherits:
    handler: app.handler
  active:
    handler: app.handler
    tracing: true
  named:
    handler: app.handler
    name: a-custom-name
    tracing: Active
""",
    "plugin-tracing-provider": """\
  tracing: true
plugins:
  - serverless-plugin-tracing
functions:
  inherits:
    handler: app.handler
  optout:
    handler: app.handler
    tracing: false
  passthrough:
    handler: app.handler
    tracing: PassThrough
""",
    "runtime-management": """\
  runtimeManagement: onFunctionUpdate
functions:
  inherits:
    handler: app.handler
  pinned:
    handler: app.handler
    runtimeManagement:
      mode: manual
      arn: arn:aws:lambda:us-east-1::runtime:0123456789abcdef0123456789abcdef
  auto:
    handler: app.handler
    runtimeManagement: auto
""",
    # scalars of another type than the schema's, as `${env:…}` gives them: Ajv converts them
    "coerced-types": """\
  memorySize: '256'
  timeout: '10'
  versionFunctions: 'false'
  layers: arn:aws:lambda:us-east-1:123456789012:layer:shared:3
  environment:
    COUNT: 3
    ON: true
functions:
  traced:
    handler: app.handler
    tracing: 'true'
    reservedConcurrency: '5'
""",
    # a REST API made by another service: this stack adds resources and methods to it
    "rest-external": """\
  apiGateway:
    restApiId:
      Fn::ImportValue: dev-ApiGatewayRestApiId
    restApiRootResourceId:
      Fn::ImportValue: dev-ApiGatewayRestApiRootResourceId
    description: users of the shared API
functions:
  list:
    handler: app.handler
    events:
      - http:
          path: users
          method: get
          cors: true
          authorizer: aws_iam
  one:
    handler: app.handler
    events:
      - http: GET users/{id}
      - http: GET /
""",
    # resources of the shared API given by path: only what lies below or beside them is made
    "rest-resources": """\
  apiGateway:
    restApiId: a1b2c3d4e5
    restApiRootResourceId: r00tid0000
    restApiResources:
      posts: p0stsid000
      posts/{id}: p0stid0000
functions:
  posts:
    handler: app.handler
    events:
      - http: GET posts
      - http: POST posts/{id}/comments
      - http:
          path: posts/{id}/likes
          method: put
          cors: true
      - http: GET health
""",
    # every method's resource given (list form, with a name for the method IDs)
    "rest-resources-all": """\
  apiGateway:
    restApiId: a1b2c3d4e5
    restApiRootResourceId: r00tid0000
    restApiResources:
      - path: users
        resourceId: us3rsid000
        name: People
      - path: users/{id}
        resourceId: us3rid0000
functions:
  users:
    handler: app.handler
    events:
      - http: GET users
      - http: DELETE users/{id}
""",
}

PLUGINS = {
    "roles-per-function": "serverless-iam-roles-per-function",
    "plugin-tracing": "serverless-plugin-tracing",
    "plugin-tracing-provider": "serverless-plugin-tracing",
}


def _plugin_dir(name: str) -> Path | None:
    given = os.environ.get("SHIPWAY_IAM_PLUGIN_DIR", "") if "iam-roles" in name else ""
    candidates = [given, str(Path(ORACLE).parents[1] / name)]
    return next((Path(c) for c in candidates if c and (Path(c) / "package.json").is_file()), None)


def _service(tmp_path: Path, case: str) -> Path:
    folder = tmp_path / case
    folder.mkdir()
    body = CASES[case]
    head = HEAD.format(name=case.replace("-", "")[:12])
    (folder / "serverless.yml").write_text(head + body, encoding="utf-8")
    (folder / "app.py").write_text("def handler(event, context):\n    return {}\n")
    return folder


def _package(folder: Path, scratch: Path) -> dict[str, Any]:
    home = scratch / "home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_NOTIFICATIONS_MODE": "off",
        "SLS_DEPRECATION_DISABLE": "*",
    }
    proc = subprocess.run(
        [ORACLE, "package", "--stage", "dev", "--region", "us-east-1"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = folder / ".serverless" / "cloudformation-template-update-stack.json"
    assert proc.returncode == 0 and out.is_file(), proc.stdout + proc.stderr
    template: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return template


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_serverless_package(tmp_path: Path, case: str) -> None:
    folder = _service(tmp_path, case)
    if case in PLUGINS:
        plugin = _plugin_dir(PLUGINS[case])
        if plugin is None:
            pytest.skip(f"{PLUGINS[case]} is not installed next to the oracle")
        (folder / "node_modules").mkdir()
        (folder / "node_modules" / PLUGINS[case]).symlink_to(plugin)
    theirs = _package(folder, tmp_path)
    oracle = _bench()
    definition = load_service(
        folder,
        f"{case}/serverless.yml",
        stage="dev",
        env={},
        params={},
        options={"region": "us-east-1"},
    )
    ours = synthesize(definition, source=f"{case}/serverless.yml", **oracle.oracle_inputs(theirs))
    assert oracle.compare(ours, theirs) == []
    assert lint(ours, errors_only=True, ignore=("E2533",)) == []
