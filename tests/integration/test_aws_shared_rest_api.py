"""A REST API shared by services of one repository, deployed for real against moto's
server: `api` makes the REST API and exports its IDs (the Framework's documented pattern),
`users` adds its resources and methods to it, given the IDs from api's outputs."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from shipway.model import ServiceOutcome
from shipway.targets.aws.client import AwsClient
from shipway.targets.aws.deployer import Deployer
from tests.integration.awskit import make_service, serverless_yml
from tests.moto import REGION

pytestmark = pytest.mark.usefixtures("aws_env")

EXPORTS = """\
resources:
  Outputs:
    ApiGatewayRestApiId:
      Value: {Ref: ApiGatewayRestApi}
      Export: {Name: dev-ApiGatewayRestApiId}
    ApiGatewayRestApiRootResourceId:
      Value: {"Fn::GetAtt": [ApiGatewayRestApi, RootResourceId]}
      Export: {Name: dev-ApiGatewayRestApiRootResourceId}
"""

DIRECT = "deploymentMethod: direct\n"

#: the IDs as api's stack outputs give them (moto keeps no exports of an updated stack, so
#: `Fn::ImportValue`, the usual way, is checked against `serverless package` only)
SHARED = """\
apiGateway:
  restApiId: {api}
  restApiRootResourceId: {root}
"""

USERS = """\
functions:
  list:
    handler: handler.hello
    events:
      - http: GET users
      - http: GET users/{id}
"""


def test_a_second_service_adds_its_routes_to_the_shared_api(tmp_path: Path) -> None:
    # `direct`: moto writes no outputs (so no exports) when it executes a change set
    api = make_service(tmp_path, "api", yml=serverless_yml("api", DIRECT, tail=EXPORTS))
    deployer = Deployer(AwsClient(REGION))
    assert deployer.deploy(api).outcome is ServiceOutcome.DEPLOYED
    cfn = boto3.client("cloudformation", region_name=REGION)
    given = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName="api-dev")["Stacks"][0]["Outputs"]
    }
    shared = SHARED.format(
        api=given["ApiGatewayRestApiId"], root=given["ApiGatewayRestApiRootResourceId"]
    )
    users = make_service(
        tmp_path, "users", yml=serverless_yml("users", DIRECT + shared, functions=USERS)
    )
    assert deployer.deploy(users).outcome is ServiceOutcome.DEPLOYED

    apigw = boto3.client("apigateway", region_name=REGION)
    apis = apigw.get_rest_apis()["items"]
    assert [a["name"] for a in apis] == ["dev-api"]  # one API: users made none of its own
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=apis[0]["id"])["items"]}
    assert {"/hello", "/users", "/users/{id}"} <= set(resources)
    assert "GET" in resources["/users/{id}"].get("resourceMethods", {})
    assert "GET" in resources["/hello"].get("resourceMethods", {})
    outputs = cfn.describe_stacks(StackName="users-dev")["Stacks"][0]["Outputs"]
    endpoint = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ServiceEndpoint")
    assert endpoint.startswith(f"https://{apis[0]['id']}.execute-api.")
