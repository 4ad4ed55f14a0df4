"""Release manifests and the release store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shipway.errors import NotFound, ShipwayError
from shipway.model import Event, Function, HttpRoute, ServiceDefinition
from shipway.targets.local.releases import (
    DeployedService,
    ReleaseManifest,
    ReleaseStore,
)


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        service="accounts",
        stage="dev",
        region="eu-west-1",
        runtime="python3.11",
        functions=(
            Function(
                name="get",
                handler="src/handlers/accounts.get",
                runtime="python3.11",
                timeout=6,
                memory_size=256,
                environment={"TABLE": "accounts-dev"},
                events=(Event("schedule", {"rate": "rate(5 minutes)"}),),
                routes=(HttpRoute("http", "GET", "/accounts/{id}"),),
            ),
        ),
    )


def test_manifest_round_trip_sorted_json() -> None:
    svc = DeployedService.from_definition(definition(), "accounts", "ab" * 32)
    m = ReleaseManifest(
        env="dev", number=3, commit="c0ffee", created_at=1.5, services={"accounts": svc}
    )
    text = m.to_json()
    doc = json.loads(text)
    assert list(doc) == sorted(doc)
    assert doc["services"]["accounts"]["functions"]["get"] == {
        "name": "get",
        "handler": "src/handlers/accounts.get",
        "runtime": "python3.11",
        "timeout": 6,
        "memory_size": 256,
        "environment": {"TABLE": "accounts-dev"},
        "routes": [{"kind": "http", "method": "GET", "path": "/accounts/{id}"}],
        "schedules": [{"rate": "rate(5 minutes)"}],
        "secret_keys": [],
    }
    assert doc["services"]["accounts"]["region"] == "eu-west-1"
    again = ReleaseManifest.from_json(text)
    assert again == m
    assert again.services["accounts"].functions["get"].http_routes == [
        HttpRoute("http", "GET", "/accounts/{id}")
    ]


def test_store_prepare_commit_current(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path, "dev")
    assert store.current() is None and store.numbers() == []
    for n in (1, 2):
        staging = store.prepare(n)
        assert staging.name.startswith(f".staging-{n}-") and staging.parent == store.releases_dir
        ReleaseManifest("dev", n, "c", 0.0).write(staging)
        store.commit(staging, n)
        assert store.current() == (n, store.path(n))
    assert store.numbers() == [1, 2]
    assert os.readlink(store.current_link) == "releases/2"
    store.switch(1)
    assert store.current() == (1, store.path(1))
    with pytest.raises(ShipwayError):
        store.prepare(1)
    with pytest.raises(NotFound):
        store.switch(9)
    assert not [p for p in store.root.iterdir() if p.name.startswith(".current-")]


def test_names_cannot_escape(tmp_path: Path) -> None:
    for bad in ("..", "a/b", "", "/abs"):
        with pytest.raises(ShipwayError):
            ReleaseStore(tmp_path, bad)
