"""The local target and its workers, with real zips and real worker processes."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from shipway.errors import DeployFailed, NotFound, ShipwayError
from shipway.model import Artifact, Function, HttpRoute, ServiceDefinition
from shipway.targets.local.gateway import Gateway, invoke_function
from shipway.targets.local.pools import WorkerManager
from shipway.targets.local.releases import ReleaseStore
from shipway.targets.local.target import LocalTarget

HANDLERS = """
import json, os, sys, time

VERSION = "{version}"

def info(event, context):
    print("hello from print()")  # must not corrupt the protocol
    sys.stdout.write("raw stdout write\\n")
    return {{
        "version": VERSION,
        "pid": os.getpid(),
        "event": event,
        "cwd": os.getcwd(),
        "env": {{k: os.environ.get(k) for k in (
            "GREETING", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_FUNCTION_TIMEOUT", "AWS_REGION", "LAMBDA_TASK_ROOT", "_HANDLER")}},
        "context": {{
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
        }},
    }}

def sleepy(event, context):
    time.sleep(event.get("sleep", 0))
    return {{"pid": os.getpid(), "version": VERSION}}

def boom(event, context):
    raise ValueError("kaboom")

def crash(event, context):
    if event.get("crash"):
        os._exit(3)
    return {{"pid": os.getpid()}}

def unserialisable(event, context):
    return object()
"""


def make_zip(path: Path, files: dict[str, tuple[str, int]]) -> Artifact:
    with zipfile.ZipFile(path, "w") as zf:
        for name, (content, mode) in files.items():
            zi = zipfile.ZipInfo(name)
            zi.external_attr = (stat.S_IFREG | mode) << 16
            zf.writestr(zi, content)
    data = path.read_bytes()
    return Artifact(path.stem, path, hashlib.sha256(data).hexdigest(), len(data))


def fn(name: str, handler: str, timeout: int = 3, **kw: object) -> Function:
    return Function(
        name=name,
        handler=handler,
        runtime=str(kw.get("runtime", "python3.11")),
        timeout=timeout,
        memory_size=256,
        environment={"GREETING": "hi"},
        routes=(HttpRoute("httpApi", "GET", f"/{name}"),),
    )


def service(
    name: str, tmp: Path, version: str = "one", *extra: Function
) -> tuple[ServiceDefinition, Artifact]:
    files = {
        "src/handlers/app.py": (HANDLERS.format(version=version), 0o644),
        "bin/tool.sh": ("#!/bin/sh\necho tool\n", 0o755),
        "broken.py": ("import does_not_exist_anywhere\n", 0o644),
        "index.js": ("exports.handler = async () => 1;\n", 0o644),
    }
    tmp.mkdir(parents=True, exist_ok=True)
    art = make_zip(tmp / f"{name}.zip", files)
    functions = (
        fn("info", "src/handlers/app.info"),
        fn("sleepy", "src/handlers/app.sleepy", timeout=1),
        fn("boom", "src/handlers/app.boom"),
        fn("crash", "src/handlers/app.crash"),
        fn("unserialisable", "src/handlers/app.unserialisable"),
        fn("broken", "broken.handler"),
        fn("nohandler", "src/handlers/app.missing"),
        *extra,
    )
    definition = ServiceDefinition(
        service=name, stage="dev", region="eu-west-1", runtime="python3.11", functions=functions
    )
    return definition, art


@pytest.fixture
def state(tmp_path: Path) -> Path:
    target = LocalTarget(tmp_path / "state")
    target.release("dev", 1, "abc123", [service("accounts", tmp_path / "a1")])
    return tmp_path / "state"


@pytest.fixture
def gateway(state: Path) -> Iterator[Gateway]:
    gw = Gateway(state)
    yield gw
    gw.close()


# --------------------------------------------------------------------------- target


def test_apply_unpacks_and_writes_manifest(state: Path) -> None:
    store = ReleaseStore(state, "dev")
    assert store.current() == (1, store.path(1))
    release = store.path(1)
    assert (release / "accounts" / "src/handlers/app.py").is_file()
    assert os.access(release / "accounts" / "bin/tool.sh", os.X_OK)
    assert not os.access(release / "accounts" / "src/handlers/app.py", os.X_OK)
    manifest = LocalTarget(state).current_manifest("dev")
    assert manifest is not None and manifest.number == 1 and manifest.commit == "abc123"
    svc = manifest.services["accounts"]
    assert svc.dir == "accounts" and svc.region == "eu-west-1"
    assert svc.functions["sleepy"].timeout == 1
    assert not [p for p in store.releases_dir.iterdir() if p.name.startswith(".staging")]


def test_failed_apply_leaves_current_untouched(state: Path, tmp_path: Path) -> None:
    target = LocalTarget(state)
    good = service("accounts", tmp_path / "b")
    bad_def, bad_art = service("billing", tmp_path / "c")
    bad_art = Artifact("billing", bad_art.path, "0" * 64, bad_art.size)  # wrong sha256
    with pytest.raises(ShipwayError, match="sha256"):
        target.release("dev", 2, "def456", [good, (bad_def, bad_art)])
    store = ReleaseStore(state, "dev")
    assert store.current() == (1, store.path(1))
    assert store.numbers() == [1]
    assert [p.name for p in store.releases_dir.iterdir()] == ["1"]


@pytest.mark.parametrize("evil", ["../escape.py", "a/../../escape.py", "/etc/evil.py"])
def test_zip_path_traversal_rejected(state: Path, tmp_path: Path, evil: str) -> None:
    definition, _ = service("accounts", tmp_path / "d")
    art = make_zip(tmp_path / "accounts.zip", {"ok.py": ("", 0o644), evil: ("x = 1", 0o644)})
    with pytest.raises(ShipwayError, match="zip entry"):
        LocalTarget(state).release("dev", 2, "c", [(definition, art)])
    assert not (tmp_path / "escape.py").exists()
    assert not (state / "envs" / "dev" / "releases" / "escape.py").exists()
    assert ReleaseStore(state, "dev").current() == (1, ReleaseStore(state, "dev").path(1))


def test_rollback_to(state: Path, tmp_path: Path) -> None:
    target = LocalTarget(state)
    target.release("dev", 2, "c2", [service("accounts", tmp_path / "e", "two")])
    assert target.current_manifest("dev").number == 2  # type: ignore[union-attr]
    target.rollback_to("dev", 1)
    assert target.current_manifest("dev").number == 1  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        target.rollback_to("dev", 7)


def test_a_redeploy_of_the_same_artifact_shares_its_folder(
    gateway: Gateway, state: Path, tmp_path: Path
) -> None:
    definition, art = service("accounts", tmp_path / "a1")  # the bytes release 1 holds
    target = LocalTarget(state)
    target.release("dev", 2, "def456", [(definition, art)], force=True)
    store = ReleaseStore(state, "dev")
    assert not (store.path(2) / "accounts").exists()  # nothing unpacked again
    first = gateway.invoke("dev", "accounts", "info", {})
    assert first.ok and first.result["env"]["LAMBDA_TASK_ROOT"] == str(store.path(1) / "accounts")
    # the same code with another configuration: the folder is shared, the workers are new
    changed = replace(
        definition,
        functions=tuple(
            replace(f, environment={"GREETING": "hello"}) for f in definition.functions
        ),
    )
    target.release("dev", 3, "0a1b2c", [(changed, art)])
    assert not (store.path(3) / "accounts").exists()
    again = gateway.invoke("dev", "accounts", "info", {})
    assert again.ok and again.result["env"]["GREETING"] == "hello"
    assert again.worker_pid != first.worker_pid
    # other bytes are unpacked into the new release
    target.release("dev", 4, "3c4d5e", [service("accounts", tmp_path / "a4", version="four")])
    assert (store.path(4) / "accounts/src/handlers/app.py").is_file()
    assert gateway.invoke("dev", "accounts", "info", {}).result["version"] == "four"


# --------------------------------------------------------------------------- workers


def test_invoke_env_context_print_and_warm_reuse(gateway: Gateway, state: Path) -> None:
    r1 = gateway.invoke("dev", "accounts", "info", {"n": 1})
    assert r1.ok, r1
    out = r1.result
    assert out["event"] == {"n": 1} and out["version"] == "one"
    assert out["env"] == {
        "GREETING": "hi",
        "AWS_LAMBDA_FUNCTION_NAME": "accounts-dev-info",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "3",
        "AWS_REGION": "eu-west-1",
        "LAMBDA_TASK_ROOT": str(state / "envs/dev/releases/1/accounts"),
        "_HANDLER": "src/handlers/app.info",
    }
    assert out["cwd"] == out["env"]["LAMBDA_TASK_ROOT"]
    ctx = out["context"]
    assert ctx["function_name"] == "accounts-dev-info"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"].endswith(":function:accounts-dev-info")
    assert ctx["memory_limit_in_mb"] == 256
    assert ctx["aws_request_id"] == r1.request_id
    assert ctx["log_group_name"] == "/aws/lambda/accounts-dev-info"
    assert 0 < ctx["remaining"] <= 3000
    r2 = gateway.invoke("dev", "accounts", "info", {"n": 2})
    assert r2.ok and r2.result["pid"] == out["pid"] == r2.worker_pid  # warm
    log = (state / "envs/dev/logs/accounts.log").read_text()
    assert "hello from print()" in log and "raw stdout write" in log
    assert f"START RequestId: {r1.request_id}" in log


def test_exception_is_reported_and_logged(gateway: Gateway, state: Path) -> None:
    r = gateway.invoke("dev", "accounts", "boom", {})
    assert not r.ok and r.error_type == "ValueError" and r.error_message == "kaboom"
    assert any("boom" in line for line in r.stack_trace)
    assert r.payload["errorType"] == "ValueError"
    log = (state / "envs/dev/logs/accounts.log").read_text()
    assert "Traceback" in log and "ValueError: kaboom" in log
    again = gateway.invoke("dev", "accounts", "boom", {})
    assert again.worker_pid == r.worker_pid  # an exception does not kill the worker


def test_timeout_kills_and_replaces_worker(gateway: Gateway, state: Path) -> None:
    first = gateway.invoke("dev", "accounts", "sleepy", {})
    assert first.ok
    started = time.monotonic()
    r = gateway.invoke("dev", "accounts", "sleepy", {"sleep": 30})
    assert time.monotonic() - started < 5
    assert not r.ok and r.timed_out
    assert r.payload == {"errorMessage": "Task timed out after 1.00 seconds"}
    with pytest.raises(ProcessLookupError):
        os.kill(r.worker_pid, 0)  # type: ignore[arg-type]
    after = gateway.invoke("dev", "accounts", "sleepy", {})
    assert after.ok and after.result["pid"] != r.worker_pid
    assert "Task timed out after 1.00 seconds" in (state / "envs/dev/logs/accounts.log").read_text()


def test_crashed_worker_is_replaced(gateway: Gateway) -> None:
    r = gateway.invoke("dev", "accounts", "crash", {"crash": True})
    assert not r.ok and r.error_type == "Runtime.ExitError"
    assert "exit status 3" in (r.error_message or "")
    ok = gateway.invoke("dev", "accounts", "crash", {})
    assert ok.ok and ok.result["pid"] != r.worker_pid


def test_import_errors_are_failed_invocations(gateway: Gateway, state: Path) -> None:
    r = gateway.invoke("dev", "accounts", "broken", {})
    assert not r.ok and r.error_type == "Runtime.ImportModuleError"
    assert "does_not_exist_anywhere" in (r.error_message or "")
    r2 = gateway.invoke("dev", "accounts", "broken", {})
    assert r2.worker_pid == r.worker_pid  # no crash loop
    r = gateway.invoke("dev", "accounts", "nohandler", {})
    assert not r.ok and r.error_type == "Runtime.HandlerNotFound"
    log = (state / "envs/dev/logs/accounts.log").read_text()  # both said in the service's log
    assert "[ERROR] Runtime.ImportModuleError: Unable to import module" in log
    assert "[ERROR] Runtime.HandlerNotFound: Handler" in log
    r = gateway.invoke("dev", "accounts", "unserialisable", {})
    assert not r.ok and r.error_type == "Runtime.MarshalError"


def test_concurrency_is_capped_per_function(state: Path) -> None:
    gw = Gateway(state, WorkerManager(max_workers=2))
    try:
        pids: list[int] = []

        def call() -> None:
            r = gw.invoke("dev", "accounts", "sleepy", {"sleep": 0.3})
            assert r.ok
            pids.append(r.result["pid"])

        threads = [threading.Thread(target=call) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(pids) == 5 and len(set(pids)) == 2
    finally:
        gw.close()
    for pid in set(pids):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_invoke_function_one_shot(state: Path) -> None:
    r = invoke_function(state, "dev", "accounts", "info", {"direct": True})
    assert r.ok and r.result["event"] == {"direct": True}
    with pytest.raises(ProcessLookupError):
        os.kill(r.result["pid"], 0)
    with pytest.raises(NotFound):
        invoke_function(state, "dev", "accounts", "nope", {})
    with pytest.raises(NotFound):
        invoke_function(state, "prod", "accounts", "info", {})


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_functions_run_and_other_runtimes_are_a_clear_error(
    state: Path, tmp_path: Path
) -> None:
    node = Function("node", "index.handler", "nodejs18.x", 3, 128, {})
    java = Function("java", "com.example.Handler", "java17", 3, 128, {})
    target = LocalTarget(state)
    target.release("dev", 2, "c", [service("accounts", tmp_path / "n", "two", node, java)])
    r = invoke_function(state, "dev", "accounts", "node", {})
    assert r.ok and r.result == 1
    with pytest.raises(ShipwayError, match=r"the local runtime cannot run java17"):
        invoke_function(state, "dev", "accounts", "java", {})


def test_without_node_a_nodejs_release_fails_before_the_switch(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no node on it
    node = Function("node", "index.handler", "nodejs18.x", 3, 128, {})
    with pytest.raises(
        DeployFailed,
        match=r"function `node`: the local runtime cannot run nodejs18.x: node is not installed",
    ):
        LocalTarget(state).release("dev", 2, "c", [service("accounts", tmp_path / "n", "v", node)])
    current = LocalTarget(state).store("dev").current()
    assert current is not None and current[0] == 1


def test_a_release_whose_handler_is_not_in_the_package_never_goes_live(
    state: Path, tmp_path: Path
) -> None:
    target = LocalTarget(state)
    target.release("dev", 7, "c7", [service("accounts", tmp_path / "ok")])
    lost = Function("lost", "src/handlers/gone.info", "python3.11", 3, 128, {})
    with pytest.raises(DeployFailed, match=r"no handler for `lost` \(src/handlers/gone.info"):
        target.release("dev", 8, "c8", [service("accounts", tmp_path / "bad", "two", lost)])
    current = target.store("dev").current()
    assert current is not None and current[0] == 7
    assert 8 not in target.store("dev").numbers()


def test_handlers_see_their_package_and_the_aws_sdk_as_on_lambda(
    state: Path, tmp_path: Path
) -> None:
    code = (
        "import importlib\n"
        "def probe(event, context):\n"
        "    found = {}\n"
        "    for name in event['modules']:\n"
        "        try:\n"
        "            importlib.import_module(name)\n"
        "            found[name] = True\n"
        "        except ImportError:\n"
        "            found[name] = False\n"
        "    return found\n"
    )
    art = make_zip(tmp_path / "probe.zip", {"probe.py": (code, 0o644)})
    definition = ServiceDefinition(
        service="probe",
        stage="dev",
        region="eu-west-1",
        runtime="python3.11",
        functions=(fn("probe", "probe.probe"),),
    )
    art = Artifact("probe", art.path, art.sha256, art.size)
    LocalTarget(state).release("dev", 2, "c2", [(definition, art)])
    # yaml, click and shipway are installed beside Shipway, but a Lambda function has none
    modules = ["json", "boto3", "botocore", "yaml", "click", "shipway"]
    result = invoke_function(state, "dev", "probe", "probe", {"modules": modules})
    assert result.payload == {
        "json": True,
        "boto3": True,
        "botocore": True,
        "yaml": False,
        "click": False,
        "shipway": False,
    }
