"""`websocket` events against `serverless package` v3.40.0 (when $SHIPWAY_SLS_ORACLE is set),
and the settings synthesis refuses, naming the key."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from shipway.errors import ShipwayError
from shipway.synth.lint import lint
from tests.conftest import ROOT

ORACLE = os.environ.get("SHIPWAY_SLS_ORACLE", "")
needs_oracle = pytest.mark.skipif(
    not (ORACLE and Path(ORACLE).is_file() and shutil.which("node")),
    reason="SHIPWAY_SLS_ORACLE (serverless@3.40.0) not available",
)

#: every websocket setting Shipway synthesizes, beside an `http` and an `sqs` event (the
#: role's statements keep the Framework's order)
CHAT = """\
service: chat
frameworkVersion: "3"
provider:
  name: aws
  runtime: python3.11
  tags:
    team: chat
  websocket:
    useProviderTags: true
  websocketsApiName: chat-sockets
  websocketsApiRouteSelectionExpression: $request.body.type
  websocketsDescription: Chat sockets
functions:
  auth:
    handler: app.auth
  connect:
    handler: app.connect
    events:
      - websocket:
          route: $connect
          authorizer:
            name: auth
            identitySource:
              - route.request.header.Authorization
              - route.request.querystring.token
  disconnect:
    handler: app.disconnect
    events:
      - websocket: $disconnect
  default:
    handler: app.default
    events:
      - websocket:
          route: $default
          routeResponseSelectionExpression: $default
  send_message:
    handler: app.send
    events:
      - websocket: sendMessage
      - websocket: room.join-now/v2
      - http: POST messages
      - sqs: arn:aws:sqs:us-east-1:123456789012:chat
"""

#: the short forms: an authorizer by ARN, one by function name, no provider settings
SIMPLE = """\
service: simple-ws
frameworkVersion: "3"
provider:
  name: aws
  runtime: python3.12
functions:
  auth:
    handler: app.auth
  hub:
    handler: app.hub
    events:
      - websocket:
          route: $connect
          authorizer: auth
      - websocket: $disconnect
      - websocket: $default
  ping:
    handler: app.ping
    events:
      - websocket:
          route: ping
          authorizer: arn:aws:lambda:us-east-1:123456789012:function:shared-auth
"""

#: a WebSocket API that another stack owns (provider.apiGateway.websocketApiId)
EXTERNAL = """\
service: external-ws
frameworkVersion: "3"
provider:
  name: aws
  runtime: python3.12
  apiGateway:
    websocketApiId: abc123
functions:
  hub:
    handler: app.hub
    events:
      - websocket:
          route: $connect
          authorizer:
            arn:
              Fn::ImportValue: shared-authorizer-arn
            name: sharedAuth
      - websocket: $default
"""


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synth_oracle", ROOT / "bench/synth_oracle.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _service(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "src" / name
    folder.mkdir(parents=True)
    (folder / "serverless.yml").write_text(text, encoding="utf-8")
    (folder / "app.py").write_text("def hub(event, context):\n    return {}\n", encoding="utf-8")
    return folder


@needs_oracle
@pytest.mark.parametrize(
    ("name", "text"), [("chat", CHAT), ("simple-ws", SIMPLE), ("external-ws", EXTERNAL)]
)
def test_websocket_api_matches_the_framework(tmp_path: Path, name: str, text: str) -> None:
    oracle = _bench()
    folder = _service(tmp_path, name, text)
    theirs, _ = oracle.run_oracle(Path(ORACLE), folder, tmp_path)
    ours = oracle.synthesize_dir(folder, **oracle.oracle_inputs(theirs))
    assert oracle.compare(ours, theirs) == []
    # the deployment's ID is the Framework's content hash, found, not copied
    assert [k for k in ours["Resources"] if k.startswith("WebsocketsDeployment")] == [
        k for k in theirs["Resources"] if k.startswith("WebsocketsDeployment")
    ]
    assert any(k.startswith("WebsocketsDeployment") for k in ours["Resources"])
    role = ours["Resources"]["IamRoleLambdaExecution"]["Properties"]["Policies"][0]
    theirs_role = theirs["Resources"]["IamRoleLambdaExecution"]["Properties"]["Policies"][0]
    assert role == theirs_role
    assert lint(ours, errors_only=True, ignore=("E2533",)) == []


def _synth(tmp_path: Path, text: str) -> dict[str, object]:
    folder = _service(tmp_path, "svc", text)
    return dict(_bench().synthesize_dir(folder))


def test_the_deployment_id_follows_the_api_content(tmp_path: Path) -> None:
    first = _synth(tmp_path / "a", SIMPLE)
    again = _synth(tmp_path / "b", SIMPLE)
    changed = _synth(tmp_path / "c", SIMPLE.replace("route: ping", "route: pong"))

    def deployment(template: dict[str, object]) -> list[str]:
        resources = template["Resources"]
        assert isinstance(resources, dict)
        return [k for k, v in resources.items() if v["Type"] == "AWS::ApiGatewayV2::Deployment"]

    assert deployment(first) == deployment(again)
    assert len(deployment(first)) == 1
    assert deployment(changed) != deployment(first)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        # `rout` is unknown to the Framework's schema (a warning, left out): `route` is missing
        (("route: ping", "rout: ping"), "functions.ping.events[0].websocket.route"),
        (
            ("authorizer: auth", "authorizer: nobody"),
            "functions.hub.events[0].websocket.authorizer",
        ),
        (
            ("route: ping", "route: ping\n          routeResponseSelectionExpression: $x"),
            "functions.ping.events[0].websocket.routeResponseSelectionExpression",
        ),
        (("- websocket: $default", "- websocket: ping"), "functions.ping.events[0].websocket"),
        (("- websocket: $default", "- websocket: 'a b'"), "functions.hub.events[2].websocket"),
        (
            ("runtime: python3.12", "runtime: python3.12\n  logs: {websocket: {level: WARN}}"),
            "provider.logs.websocket.level",
        ),
    ],
)
def test_what_synthesis_refuses_names_the_key(
    tmp_path: Path, change: tuple[str, str], key: str
) -> None:
    with pytest.raises(ShipwayError) as caught:
        _synth(tmp_path, SIMPLE.replace(*change))
    assert caught.value.where is not None
    assert caught.value.where.key == key
