"""`print_config`: the resolved serverless.yml as `serverless print` (v3) renders it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from shipway.config.serverless import load_service, print_config, render_config
from shipway.errors import ShipwayError
from shipway.model import ServiceDefinition

SERVICE = """
service: accounts
provider:
  name: aws
  runtime: python3.12
  stage: ${opt:stage, 'dev'}
  environment:
    TABLE: accounts-${sls:stage}
    REF: !Ref UsersTable
functions:
  get:
    handler: src/get.handler
    events:
      - http: GET accounts/{id}
custom:
  zeta: 1
  alpha: [a, b]
  script: |
    echo one
    echo two
plugins:
  - serverless-python-requirements
"""


def definition(tmp_path: Path) -> ServiceDefinition:
    (tmp_path / "serverless.yml").write_text(textwrap.dedent(SERVICE))
    return load_service(tmp_path, "serverless.yml", stage="prod", env={}, params={})


def test_yaml_keeps_key_order_and_js_yaml_layout(tmp_path: Path) -> None:
    text = print_config(definition(tmp_path), "yaml")
    assert text.splitlines()[:4] == [
        "service: accounts",
        "provider:",
        "  name: aws",
        "  runtime: python3.12",
    ]
    assert "  stage: prod\n" in text
    assert "    TABLE: accounts-prod\n" in text
    assert "    REF:\n      Ref: UsersTable\n" in text
    assert (
        "custom:\n  zeta: 1\n  alpha:\n    - a\n    - b\n" in text
    )  # written order, indented lists
    assert "  script: |\n    echo one\n    echo two\n" in text
    assert "plugins:\n  - serverless-python-requirements\n" in text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert list(yaml.safe_load(text)) == ["service", "provider", "functions", "custom", "plugins"]


def test_json_indent_two_and_same_data(tmp_path: Path) -> None:
    d = definition(tmp_path)
    text = print_config(d, "json")
    assert text.startswith('{\n  "service": "accounts",\n  "provider": {\n    "name": "aws",')
    assert json.loads(text) == yaml.safe_load(print_config(d, "yaml"))
    assert json.loads(text)["functions"]["get"]["events"] == [{"http": "GET accounts/{id}"}]


def test_render_config_rejects_unknown_format() -> None:
    with pytest.raises(ShipwayError, match="unknown print format"):
        render_config({}, "text")  # type: ignore[arg-type]
