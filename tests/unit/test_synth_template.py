"""Golden expectations for `shipway.synth`: exact logical IDs and key properties.

The expected IDs (version hashes included) were produced by `serverless package` v3.40.0
on the same configurations; they run everywhere, with no oracle.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from shipway.errors import ShipwayError
from shipway.model import Function, ServiceDefinition
from shipway.synth import naming, stack_name, synthesize
from shipway.synth.jsutil import deep_sort, js_stringify
from shipway.synth.lint import lint

ACCOUNTS_SHA = "W6aBlqz3lzt7VCJTpP1vk/OXChjuygEjGev5XEC2Nzg="


def definition(doc: dict[str, Any], stage: str = "dev") -> ServiceDefinition:
    functions = tuple(
        Function(name, spec["handler"], "python3.11", 6, 1024, {})
        for name, spec in (doc.get("functions") or {}).items()
    )
    return ServiceDefinition(
        service=doc["service"],
        stage=stage,
        region="us-east-1",
        runtime="python3.11",
        functions=functions,
        resolved=doc,
    )


ACCOUNTS = {
    "service": "accounts",
    "provider": {
        "name": "aws",
        "runtime": "python3.11",
        "region": "us-east-1",
        "memorySize": 256,
        "timeout": 5,
        "environment": {"LEDGER_NAME": "accounts-dev", "CURRENCY": "GBP", "LOG_LEVEL": "info"},
    },
    "functions": {
        "getAccount": {
            "handler": "handler.get_account",
            "events": [{"http": {"path": "accounts/{id}", "method": "get"}}],
        },
        "listAccounts": {"handler": "handler.list_accounts", "events": [{"http": "GET accounts"}]},
        "openAccount": {
            "handler": "handler.open_account",
            "timeout": 3,
            "events": [{"http": {"path": "accounts", "method": "post"}}],
        },
    },
}


def accounts() -> dict[str, Any]:
    return synthesize(definition(ACCOUNTS), code_sha256=ACCOUNTS_SHA, timestamp_ms=1795733941307)


def test_rest_api_logical_ids_and_version_hashes_match_the_framework() -> None:
    t = accounts()
    assert set(t["Resources"]) == {
        "ServerlessDeploymentBucket",
        "ServerlessDeploymentBucketPolicy",
        "GetAccountLogGroup",
        "ListAccountsLogGroup",
        "OpenAccountLogGroup",
        "IamRoleLambdaExecution",
        "GetAccountLambdaFunction",
        "ListAccountsLambdaFunction",
        "OpenAccountLambdaFunction",
        "GetAccountLambdaVersionnBOXKQnypp4BRSAXrBlrBKt6HOyBcPuUdAU6U8pBf0",
        "ListAccountsLambdaVersion1IP0X1AcHcPEHDvD3QIjJJ9I7FQVgRcaEDnM6z4KwnM",
        "OpenAccountLambdaVersionWvJe4HB5HVMuyRFo3uqspoxFEZqCglOuVYTlRWQg2eI",
        "ApiGatewayRestApi",
        "ApiGatewayResourceAccounts",
        "ApiGatewayResourceAccountsIdVar",
        "ApiGatewayMethodAccountsIdVarGet",
        "ApiGatewayMethodAccountsGet",
        "ApiGatewayMethodAccountsPost",
        "ApiGatewayDeployment1795733941307",
        "GetAccountLambdaPermissionApiGateway",
        "ListAccountsLambdaPermissionApiGateway",
        "OpenAccountLambdaPermissionApiGateway",
    }
    fn = t["Resources"]["OpenAccountLambdaFunction"]
    assert fn["Properties"]["FunctionName"] == "accounts-dev-openAccount"
    assert fn["Properties"]["Timeout"] == 3
    assert fn["Properties"]["MemorySize"] == 256
    assert fn["Properties"]["Code"]["S3Bucket"] == {"Ref": "ServerlessDeploymentBucket"}
    assert fn["DependsOn"] == ["OpenAccountLogGroup"]
    assert t["Resources"]["ApiGatewayRestApi"]["Properties"]["Name"] == "dev-accounts"
    assert t["Resources"]["GetAccountLogGroup"]["Properties"]["LogGroupName"] == (
        "/aws/lambda/accounts-dev-getAccount"
    )
    assert t["Outputs"]["ServiceEndpoint"]["Export"] == {"Name": "sls-accounts-dev-ServiceEndpoint"}
    assert list(t["Outputs"]) == [
        "ServerlessDeploymentBucketName",
        "GetAccountLambdaFunctionQualifiedArn",
        "ListAccountsLambdaFunctionQualifiedArn",
        "OpenAccountLambdaFunctionQualifiedArn",
        "ServiceEndpoint",
    ]
    assert stack_name(definition(ACCOUNTS)) == "accounts-dev"


def test_deterministic_and_artifact_key() -> None:
    a = synthesize(definition(ACCOUNTS), artifact_key="shipway/accounts/abc.zip", timestamp_ms=5)
    b = synthesize(definition(ACCOUNTS), artifact_key="shipway/accounts/abc.zip", timestamp_ms=5)
    assert a == b
    code = a["Resources"]["GetAccountLambdaFunction"]["Properties"]["Code"]
    assert code["S3Key"] == "shipway/accounts/abc.zip"
    default = synthesize(definition(ACCOUNTS), timestamp_ms=1795733943373)
    key = default["Resources"]["GetAccountLambdaFunction"]["Properties"]["Code"]["S3Key"]
    assert key == "serverless/accounts/dev/1795733943373-2026-11-26T22:59:03.373Z/accounts.zip"


def test_hex_sha256_is_accepted() -> None:
    hex_sha = base64.b64decode(ACCOUNTS_SHA).hex()
    t = synthesize(definition(ACCOUNTS), code_sha256=hex_sha, timestamp_ms=1)
    assert "GetAccountLambdaVersionnBOXKQnypp4BRSAXrBlrBKt6HOyBcPuUdAU6U8pBf0" in t["Resources"]


def test_deployment_bucket_removes_the_generated_bucket() -> None:
    doc = {**ACCOUNTS, "provider": {**ACCOUNTS["provider"], "deploymentBucket": "my-bucket"}}
    t = synthesize(definition(doc))
    assert "ServerlessDeploymentBucket" not in t["Resources"]
    assert "ServerlessDeploymentBucketPolicy" not in t["Resources"]
    code = t["Resources"]["GetAccountLambdaFunction"]["Properties"]["Code"]
    assert code["S3Bucket"] == "my-bucket"
    assert t["Outputs"]["ServerlessDeploymentBucketName"]["Value"] == "my-bucket"


NOTIFY = {
    "service": "notifications",
    "provider": {"name": "aws", "runtime": "python3.11", "tags": {"team": "x"}},
    "functions": {
        "render": {
            "handler": "notify.render",
            "events": [{"httpApi": {"method": "POST", "path": "/render/{template}"}}],
        },
        "health_check": {
            "handler": "notify.health",
            "versionFunction": False,
            "events": [{"httpApi": "GET /health"}, {"httpApi": "*"}],
        },
    },
}


def test_http_api_ids() -> None:
    t = synthesize(definition(NOTIFY))
    r = t["Resources"]
    for logical_id in (
        "HttpApi",
        "HttpApiStage",
        "HttpApiIntegrationRender",
        "HttpApiIntegrationHealthUnderscorecheck",
        "HttpApiRoutePostRenderTemplateVar",
        "HttpApiRouteGetHealth",
        "HttpApiRouteDefault",
        "RenderLambdaPermissionHttpApi",
        "HealthUnderscorecheckLambdaPermissionHttpApi",
        "HealthUnderscorecheckLogGroup",
    ):
        assert logical_id in r, logical_id
    assert r["HttpApi"]["Properties"]["Name"] == "dev-notifications"
    assert r["HttpApi"]["Properties"]["Tags"] == {"team": "x"}
    assert r["HttpApiRouteDefault"]["Properties"]["RouteKey"] == "$default"
    assert not any(k.startswith("HealthUnderscorecheckLambdaVersion") for k in r)
    assert r["RenderLambdaFunction"]["Properties"]["Tags"] == [{"Key": "team", "Value": "x"}]
    assert "HttpApiUrl" in t["Outputs"]


def test_schedule_sqs_sns_stream_s3_ids() -> None:
    doc = {
        "service": "jobs",
        "provider": {"name": "aws", "runtime": "python3.11"},
        "functions": {
            "work": {
                "handler": "a.b",
                "events": [
                    {"schedule": "rate(1 hour)"},
                    {"schedule": {"rate": ["cron(0 1 * * ? *)"], "enabled": False}},
                    {"sqs": "arn:aws:sqs:us-east-1:123456789012:my-queue"},
                    {"sns": "alerts"},
                    {"stream": "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"},
                    {"s3": "jobs-uploads"},
                ],
            }
        },
    }
    r = synthesize(definition(doc))["Resources"]
    assert r["WorkEventsRuleSchedule1"]["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    assert r["WorkEventsRuleSchedule2"]["Properties"]["State"] == "DISABLED"
    assert "WorkLambdaPermissionEventsRuleSchedule2" in r
    assert r["WorkEventSourceMappingSQSMyqueue"]["Properties"]["BatchSize"] == 10
    assert r["WorkEventSourceMappingSQSMyqueue"]["DependsOn"] == ["IamRoleLambdaExecution"]
    assert r["SNSTopicAlerts"]["Properties"]["Subscription"][0]["Protocol"] == "lambda"
    assert "WorkLambdaPermissionAlertsSNS" in r
    assert "WorkEventSourceMappingKinesisClicks" in r
    assert r["S3BucketJobsuploads"]["DependsOn"] == ["WorkLambdaPermissionJobsuploadsS3"]
    statements = r["IamRoleLambdaExecution"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    actions = [s["Action"][0] for s in statements]
    assert actions == [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "kinesis:GetRecords",
        "sqs:ReceiveMessage",
    ]


def test_iam_statements_and_user_resources_merge() -> None:
    doc = {
        "service": "svc",
        "provider": {
            "name": "aws",
            "iam": {
                "role": {
                    "statements": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
                    "managedPolicies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                }
            },
        },
        "functions": {"hello-world": {"handler": "h.main"}},
        "resources": {
            "Resources": {
                "ServerlessDeploymentBucket": {
                    "Properties": {"VersioningConfiguration": {"Status": "Enabled"}}
                }
            },
            "Outputs": {"Mine": {"Value": "x"}},
            "Conditions": {"Always": {"Fn::Equals": ["a", "a"]}},
        },
    }
    t = synthesize(definition(doc))
    role = t["Resources"]["IamRoleLambdaExecution"]["Properties"]
    assert role["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert role["Policies"][0]["PolicyDocument"]["Statement"][-1]["Action"] == [
        "s3:GetObject"
    ]  # coerced, as the Framework does
    bucket = t["Resources"]["ServerlessDeploymentBucket"]["Properties"]
    assert "BucketEncryption" in bucket and "VersioningConfiguration" in bucket
    assert t["Outputs"]["Mine"] == {"Value": "x"}  # no Export added to the user's outputs
    assert "Always" in t["Conditions"]
    fn = t["Resources"]["HelloDashworldLambdaFunction"]["Properties"]
    assert fn["FunctionName"] == "svc-dev-hello-world"
    assert fn["Runtime"] == "nodejs16.x"  # the Framework v3.40.0 default


def test_cors_preflight() -> None:
    doc = {
        "service": "svc",
        "provider": {"name": "aws", "runtime": "python3.11"},
        "functions": {
            "a": {
                "handler": "h.a",
                "events": [{"http": {"path": "/x", "method": "get", "cors": True}}],
            },
            "b": {
                "handler": "h.b",
                "events": [{"http": {"path": "x", "method": "post", "cors": True}}],
            },
        },
    }
    r = synthesize(definition(doc))["Resources"]
    options = r["ApiGatewayMethodXOptions"]["Properties"]
    params = options["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
    assert params["method.response.header.Access-Control-Allow-Methods"] == "'OPTIONS,POST,GET'"
    assert params["method.response.header.Access-Control-Allow-Origin"] == "'*'"


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        (
            {"functions": {"f": {"handler": "h.f", "events": [{"alexaSkill": "amzn1.x"}]}}},
            "functions.f.events[0].alexaSkill",
        ),
        ({"functions": {"f": {"handler": "h.f", "image": "x"}}}, "functions.f.image"),
        ({"plugins": ["serverless-domain-manager"]}, "plugins[0]"),
        (
            {"functions": {"f": {"handler": "h.f", "provisionedConcurrency": 2}}},
            "functions.f.provisionedConcurrency",
        ),
        (
            {"provider": {"name": "aws", "websocket": {"useProviderTag": True}}},
            "provider.websocket.useProviderTag",
        ),
        (
            {"layers": {"deps": {"path": "layer", "package": {"artifact": "s3://b/deps.zip"}}}},
            "layers.deps.package.artifact",
        ),
        (
            {
                "functions": {
                    "f": {
                        "handler": "h.f",
                        "events": [
                            {
                                "http": {
                                    "path": "a",
                                    "method": "get",
                                    "authorizer": {"name": "f", "claims": ["email"]},
                                }
                            }
                        ],
                    }
                }
            },
            "functions.f.events[0].http.authorizer.claims",
        ),
    ],
)
def test_unsupported_is_an_error_naming_the_key(patch: dict[str, Any], key: str) -> None:
    doc = {"service": "svc", "provider": {"name": "aws"}, "functions": {"f": {"handler": "h.f"}}}
    doc.update(patch)
    with pytest.raises(ShipwayError) as info:
        synthesize(definition(doc))
    assert info.value.where is not None and info.value.where.key == key
    assert "not supported" in info.value.message


def test_packaging_plugins_are_accepted() -> None:
    from shipway.synth import plugin_warnings

    doc = {**ACCOUNTS, "plugins": ["serverless-python-requirements"]}
    synthesize(definition(doc))
    assert len(plugin_warnings(definition(doc))) == 1


def test_naming_rules() -> None:
    assert naming.normalized_function_name("my-fn_name") == "MyDashfnUnderscorename"
    assert naming.normalize_path("users/{userId}/items-all") == "UsersUseridVarItemsDashall"
    assert naming.normalize_path("admin/{proxy+}") == "AdminProxyVar"
    assert naming.http_api_route("GET /payments/{id}") == "HttpApiRouteGetPaymentsIdVar"
    assert naming.method_logical_id("Users", "get") == "ApiGatewayMethodUsersGet"
    assert naming.queue_logical_id("w", "my_queue.fifo") == "WEventSourceMappingSQSMyqueuefifo"


def test_js_helpers() -> None:
    assert js_stringify({"a": [1, 2.0, True, None, "é"]}) == '{"a":[1,2,true,null,"é"]}'
    assert list(
        deep_sort({"b": 1, "B": 2, "a_b": 3, "aB": 4, "layerConfigurations": 5, "MemorySize": 6})
    ) == ["a_b", "aB", "b", "B", "layerConfigurations", "MemorySize"]


def test_templates_lint_clean() -> None:
    for doc in (ACCOUNTS, NOTIFY):
        assert lint(synthesize(definition(doc)), errors_only=True, ignore=("E2533",)) == []


@pytest.mark.parametrize(
    ("provider", "function", "message"),
    [
        ({}, {"mode": "manual"}, "needs the runtime version's `arn`"),
        ({}, "sometimes", "`mode` is one of auto, onFunctionUpdate, manual"),
        ({"runtimeManagement": 3}, None, "a mode name or `{mode, arn}`"),
    ],
)
def test_runtime_management_that_cannot_be_written_is_refused(
    provider: dict[str, Any], function: Any, message: str
) -> None:
    spec: dict[str, Any] = {"handler": "h.f"}
    if function is not None:
        spec["runtimeManagement"] = function
    doc = {"service": "svc", "provider": {"name": "aws", **provider}, "functions": {"f": spec}}
    with pytest.raises(ShipwayError, match=message.replace("{", r"\{").replace("}", r"\}")):
        synthesize(definition(doc))
