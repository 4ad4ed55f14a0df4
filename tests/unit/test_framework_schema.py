"""The Framework's schema walk (unknown keys) and Shipway's support table (refused keys)."""

from __future__ import annotations

from typing import Any

import pytest

from shipway.config import framework_schema
from shipway.config.framework_schema import split_unknown, validation_mode
from shipway.model import ServiceDefinition
from shipway.synth.support import REFUSED, values_at
from shipway.synth.template import support_problems


def _unknown(doc: dict[str, Any]) -> list[tuple[str | int, ...]]:
    return list(split_unknown(doc).unknown)


def test_keys_the_schema_does_not_know_are_found_through_refs_and_anyof() -> None:
    doc = {
        "service": "s",
        "provider": {
            "name": "aws",
            "aliasStage": {"name": "blue"},  # a plugin's key
            "logs": {"restApi": True},  # the Framework's: known
            "environment": {"ANY_NAME": "free-form"},
            "iam": {"role": {"statements": [{"Effect": "Allow", "Action": "*", "Oops": 1}]}},
        },
        "functions": {
            "f": {
                "handler": "h.f",
                "cors": True,  # the Framework warns of it on a function
                "events": [
                    {"http": {"path": "/", "method": "get", "authorizer": "auth"}},
                    {"pigeon": {}},
                ],
            }
        },
        "custom": {"whatever": {"deep": [1, {"x": 2}]}},
        "resources": {"Resources": {"T": {"Type": "AWS::SQS::Queue", "Properties": {"A": 1}}}},
    }
    assert _unknown(doc) == [
        ("provider", "aliasStage"),
        ("provider", "iam", "role", "statements", 0, "Oops"),
        ("functions", "f", "cors"),
        ("functions", "f", "events", 1, "pigeon"),
    ]
    known = split_unknown(doc).known
    assert "aliasStage" not in known["provider"] and known["provider"]["logs"] == {"restApi": True}
    assert known["functions"]["f"]["events"][1] == {"pigeon": {}}  # kept in its place


def test_validation_mode_defaults_to_warn() -> None:
    assert validation_mode({}) == "warn"
    assert validation_mode({"configValidationMode": "error"}) == "error"
    assert validation_mode({"configValidationMode": "nonsense"}) == "warn"


def _definition(doc: dict[str, Any]) -> ServiceDefinition:
    return ServiceDefinition("s", "dev", "us-east-1", "python3.11", (), resolved=doc)


def test_every_refusal_is_listed_not_the_first() -> None:
    doc = {
        "service": "s",
        "provider": {
            "name": "aws",
            "logs": {"restApi": True, "frameworkLambda": True},
            "alb": {"targetGroupPrefix": "shop"},
        },
        "plugins": ["serverless-offline", "serverless-domain-manager"],
        "functions": {
            "f": {
                "handler": "h.f",
                "events": [
                    {"cloudFront": {"eventType": "viewer-request"}},
                    {"alexaSkill": "amzn1.ask.skill.x"},
                    {"http": {"path": "/", "method": "get", "async": True}},
                ],
            }
        },
    }
    keys = [e.where.key for e in support_problems(_definition(doc), "s.yml") if e.where]
    assert sorted(str(k) for k in keys) == sorted(
        [
            "provider.alb",
            "plugins[1]",
            "functions.f.events[0].cloudFront",
            "functions.f.events[1].alexaSkill",
            "functions.f.events[2].http.async",
        ]
    )


def test_a_supported_service_has_no_problem() -> None:
    doc = {
        "service": "s",
        "provider": {"name": "aws", "logs": {"frameworkLambda": True}},
        "functions": {"f": {"handler": "h.f", "events": [{"http": "GET /"}]}},
    }
    assert support_problems(_definition(doc), "s.yml") == []


def test_table_patterns_name_real_places() -> None:
    doc = {"functions": {"a": {"image": "x"}, "b": {"image": "y"}}, "plugins": ["p", "q"]}
    assert [p for p, _ in values_at(doc, "functions.*.image")] == [
        "functions.a.image",
        "functions.b.image",
    ]
    assert [p for p, _ in values_at(doc, "plugins[]")] == ["plugins[0]", "plugins[1]"]
    assert all(pattern and not pattern.startswith(".") for pattern in REFUSED)


def test_a_key_shipway_implements_beyond_the_schema_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    statements = [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]
    doc = {"functions": {"f": {"handler": "h.f", "iamRoleStatements": statements}}}
    # serverless-iam-roles-per-function's key: Shipway compiles it (synth/function_roles.py)
    split = split_unknown(doc)
    assert split.unknown == () and split.known == doc
    monkeypatch.setattr(framework_schema, "KNOWN_BEYOND_SCHEMA", ())
    assert _unknown(doc) == [("functions", "f", "iamRoleStatements")]


def test_scalars_are_converted_as_the_frameworks_ajv_converts_them() -> None:
    from shipway.config.framework_schema import split_unknown

    doc = {
        "service": "s",
        "provider": {
            "name": "aws",
            "memorySize": "256",  # as `${env:MEM}` gives it
            "timeout": "10",
            "versionFunctions": "false",
            "layers": "arn:aws:lambda:us-east-1:123456789012:layer:x:1",
            "environment": {"COUNT": 3, "ON": True},
            "role": None,  # a null is put back as it was, never converted
        },
        "functions": {"f": {"handler": "h.f", "tracing": "true", "memorySize": "lots"}},
    }
    known = split_unknown(doc).known
    provider = known["provider"]
    assert (provider["memorySize"], provider["timeout"]) == (256, 10)
    assert provider["versionFunctions"] is False
    assert provider["layers"] == ["arn:aws:lambda:us-east-1:123456789012:layer:x:1"]
    assert provider["environment"] == {"COUNT": "3", "ON": "true"}  # strings, as Lambda's
    assert provider["role"] is None
    assert known["functions"]["f"]["tracing"] is True
    assert known["functions"]["f"]["memorySize"] == "lots"  # not a number: left for the check
