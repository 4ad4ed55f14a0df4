"""The local emulator's parameter store file: writes are whole, concurrent puts lose
nothing, and a file that is not Shipway's is a clear error."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shipway.errors import ShipwayError
from shipway.targets.local.parameters import LocalParameters


def test_concurrent_puts_keep_every_parameter_and_count_versions(tmp_path: Path) -> None:
    store = LocalParameters(tmp_path)

    def writer(n: int) -> None:
        for i in range(10):
            store.put("us-east-1", f"/w{n}/p{i}", f"v{n}.{i}", "String")
            store.put("eu-west-1", "/shared", f"{n}.{i}", "String")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kept = store.listing("us-east-1")
    assert len(kept) == 80 and {p.value for p in kept} == {
        f"v{n}.{i}" for n in range(8) for i in range(10)
    }
    (shared,) = store.listing("eu-west-1")
    assert shared.version == 80  # one version per put, none lost to a race
    assert sorted(p.name for p in (tmp_path / "emulator").iterdir()) == [
        ".parameters.lock",
        "parameters.json",
    ]


def test_a_parameter_reads_back_with_its_type_and_deletes(tmp_path: Path) -> None:
    store = LocalParameters(tmp_path)
    store.put("us-east-1", "/a/list", "x,y", "StringList")
    found = store.ssm_parameter("/a/list", region="us-east-1")
    assert found is not None and (found.type, found.value) == ("StringList", "x,y")
    assert store.ssm_parameter("/a/list", region="eu-west-1") is None  # per region, as SSM
    assert store.delete("us-east-1", "/a/list") is True
    assert store.delete("us-east-1", "/a/list") is False
    assert store.ssm_parameter("/a/list", region="us-east-1") is None


def test_a_file_that_is_not_the_store_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "emulator").mkdir()
    (tmp_path / "emulator/parameters.json").write_text('{"parameters": [1]}')
    with pytest.raises(ShipwayError, match=r"parameters\.json is not the local parameter store"):
        LocalParameters(tmp_path).ssm_parameter("/x")
