"""Which layers the local runtime gives a function, and where they go on its paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shipway.model import Function, ServiceDefinition
from shipway.targets.local.layers import (
    LayerCatalog,
    function_layers,
    local_layer_arn,
    node_paths,
    python_paths,
    release_warnings,
)


def service(name: str, doc: dict[str, Any]) -> ServiceDefinition:
    functions = tuple(
        Function(fn, spec["handler"], "python3.11", 6, 1024, {})
        for fn, spec in (doc.get("functions") or {}).items()
    )
    return ServiceDefinition(name, "dev", "us-east-1", "python3.11", functions, resolved=doc)


BASE = service("base", {"layers": {"shared-libs": {"path": "l", "name": "base-shared"}}})


def test_own_sibling_and_named_layers_resolve_in_order() -> None:
    api = service(
        "api",
        {
            "layers": {"deps": {"path": "deps"}},
            "provider": {"layers": [{"Ref": "DepsLambdaLayer"}]},
            "functions": {
                "a": {
                    "handler": "app.a",
                    "layers": [
                        local_layer_arn("base-dev", "SharedDashlibsLambdaLayerQualifiedArn"),
                        {"Ref": "DepsLambdaLayer"},
                        "arn:aws:lambda:eu-west-2:123456789012:layer:base-shared:7",
                    ],
                },
                "b": {"handler": "app.b"},  # the provider's layers
            },
        },
    )
    refs, warnings = function_layers(api, LayerCatalog([BASE, api]))
    assert refs == {"a": ("base/shared-libs", "api/deps", "base/shared-libs"), "b": ("api/deps",)}
    assert warnings == []


def test_layers_the_release_does_not_hold_are_warnings() -> None:
    api = service(
        "api",
        {
            "functions": {
                "a": {
                    "handler": "app.a",
                    "layers": [
                        "arn:aws:lambda:us-east-1:999999999999:layer:elsewhere:1",
                        local_layer_arn("other-dev", "XLambdaLayerQualifiedArn"),
                        local_layer_arn("base-dev", "MissingLambdaLayerQualifiedArn"),
                        {"Ref": "NopeLambdaLayer"},
                    ],
                }
            }
        },
    )
    warnings = release_warnings([BASE, api])["api"]
    assert len(warnings) == 4
    assert "layer:elsewhere:1" in warnings[0] and "not a layer of a service" in warnings[0]
    assert "stack `other-dev` is not a service of this repository" in warnings[1]
    assert "service `base` has no such layer" in warnings[2]
    assert "names no layer of this service" in warnings[3]
    assert all("cannot provide it" in w and "fails to import" in w for w in warnings)


def test_paths_follow_lambdas_opt_order() -> None:
    first, second = Path("/r/.layers/a/one"), Path("/r/.layers/a/two")
    assert python_paths([first, second], "python3.11") == [
        "/r/.layers/a/two/python/lib/python3.11/site-packages",
        "/r/.layers/a/one/python/lib/python3.11/site-packages",
        "/r/.layers/a/two/python",
        "/r/.layers/a/one/python",
    ]
    assert node_paths([first], "nodejs20.x") == [
        "/r/.layers/a/one/nodejs/node20/node_modules",
        "/r/.layers/a/one/nodejs/node_modules",
    ]
