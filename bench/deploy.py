"""The AWS target on moto's server: 10 services deployed, then one changed, then none.

For each run: the wall time, the time spent waiting on the API (inside boto3 calls,
moto's own work included), the making of boto3's session and clients (once per
deploy), and Shipway's own time (the rest), beside the goals: a one-service change
executes only that stack's change set; Shipway's own time per unchanged service at most
20 ms. Deploys run one at a time (`--bound 1`, the default) so that the rest is
Shipway's own time; `--bound 4` shows the parallel wall (API time then adds up across
threads, so own time is not shown). Building is not part of this: the services are
synthesized once, before the clock starts; the work `shipway run` adds around the target
(synthesizing each template, writing the release record) is timed apart and added.

    .venv/bin/python bench/deploy.py [--services 10] [--bound 1] [--endpoint URL]

Without --endpoint (or $SHIPWAY_TEST_MOTO_ENDPOINT) a moto_server is started on
127.0.0.1 for the run.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.awskit import HANDLER, make_service  # noqa: E402

from shipway.masking import Masker  # noqa: E402
from shipway.model import AwsTarget as AwsConfig  # noqa: E402
from shipway.model import DeployInput, DeployRequest, ServiceOutcome, code_key  # noqa: E402
from shipway.pipeline.deploy import content_deployment_id  # noqa: E402
from shipway.pipeline.paths import StatePaths  # noqa: E402
from shipway.pipeline.records import write_record  # noqa: E402
from shipway.synth.template import synthesize  # noqa: E402
from shipway.targets.aws.client import AwsClient  # noqa: E402
from shipway.targets.aws.target import AwsTarget  # noqa: E402

T = TypeVar("T")
GOAL_OWN_MS = 20.0
REGION = "us-east-1"


class TimedClient(AwsClient):
    """The real client, adding up the time spent inside AWS calls and counting the change
    sets executed."""

    def __init__(self) -> None:
        super().__init__(REGION)
        self.api_seconds = 0.0
        self.setup_seconds = 0.0  # boto3 sessions and clients, made once per process
        self.calls = 0
        self.executed: list[str] = []
        self._count = threading.Lock()

    def _call(self, what: str, fn: Callable[[], T], verb: str = "read") -> T:
        start = time.perf_counter()
        try:
            return super()._call(what, fn, verb)
        finally:
            with self._count:
                self.api_seconds += time.perf_counter() - start
                self.calls += 1

    def _client(self, service: str, region: str) -> Any:
        start = time.perf_counter()
        try:
            return super()._client(service, region)
        finally:
            with self._count:
                self.setup_seconds += time.perf_counter() - start

    def execute_change_set(self, stack: str, name: str) -> None:
        self.executed.append(stack)
        super().execute_change_set(stack, name)


@contextmanager
def moto(endpoint: str | None) -> Iterator[str]:
    if endpoint:
        yield endpoint.rstrip("/")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def one_run(label: str, request: DeployRequest, bound: int) -> dict[str, Any]:
    client = TimedClient()
    target = AwsTarget(AwsConfig(region=REGION), client=client, bound=bound)
    start = time.perf_counter()
    result = target.apply(target.plan(request), request, 1)
    wall = time.perf_counter() - start
    if not result.ok:
        raise SystemExit(f"{label}: {result.error}")
    return {
        "label": label,
        "wall": wall,
        "api": client.api_seconds,
        "setup": client.setup_seconds,
        "calls": client.calls,
        "executed": client.executed,
        "unchanged": result.having(ServiceOutcome.UNCHANGED),
    }


def run_path_work(items: list[DeployInput], home: Path) -> float:
    """Seconds of what `shipway run` adds per release around the target: each service's
    template synthesized (content-hash code key and API deployment id) and the release
    record written (pipeline/deploy.py, pipeline/records.py)."""
    start = time.perf_counter()
    for item in items:
        d = item.definition
        key = code_key(d.service, d.stage, item.artifact.sha256)
        content_deployment_id(synthesize(d, artifact_key=key, code_sha256=item.artifact.sha256))
    kept = [(item, "c2") for item in items]
    write_record(StatePaths(home), "bench", 1, "c2", "aws", kept, Masker(()))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--bound", type=int, default=1)
    parser.add_argument("--endpoint", default=os.environ.get("SHIPWAY_TEST_MOTO_ENDPOINT"))
    args = parser.parse_args(argv)
    with moto(args.endpoint) as url, tempfile.TemporaryDirectory() as scratch:
        urllib.request.urlopen(
            urllib.request.Request(url + "/moto-api/reset", data=b"", method="POST")
        ).read()
        os.environ.update(
            AWS_ENDPOINT_URL=url,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION=REGION,
            AWS_EC2_METADATA_DISABLED="true",
        )
        root = Path(scratch)
        names = [f"svc{i:02d}" for i in range(args.services)]
        v1 = [make_service(root / "v1", n) for n in names]
        changed = make_service(root / "v2", names[-1], files={"handler.py": HANDLER + "#\n"})
        v2 = [*v1[:-1], changed]
        runs = [
            one_run("first deploy", DeployRequest("bench", "c1", tuple(v1)), args.bound),
            one_run("one changed", DeployRequest("bench", "c2", tuple(v2)), args.bound),
            one_run("none changed", DeployRequest("bench", "c2", tuple(v2)), args.bound),
        ]
        around = run_path_work(v2, root / "state")
    print(f"{args.services} services on moto, bound {args.bound}")
    print(
        f"{'run':<14}{'wall s':>9}{'API s':>9}{'boto3 setup s':>15}{'own s':>9}"
        f"{'calls':>7}{'executed':>10}"
    )
    for r in runs:
        own = r["wall"] - r["api"] - r["setup"]
        shown = f"{own:>9.3f}" if args.bound == 1 else f"{'-':>9}"
        print(
            f"{r['label']:<14}{r['wall']:>9.3f}{r['api']:>9.3f}{r['setup']:>15.3f}{shown}"
            f"{r['calls']:>7}{len(r['executed']):>10}"
        )
    one, none = runs[1], runs[2]
    per_unchanged = (none["wall"] - none["api"] - none["setup"]) / args.services * 1000
    only = one["executed"] == [f"{names[-1]}-dev"]
    print(
        f"one-service change executes only its stack: {only} "
        f"(executed: {', '.join(one['executed'])}; goal: {names[-1]}-dev alone)"
    )
    if args.bound != 1:
        return 0 if only else 1
    print(
        f"own time per unchanged service: {per_unchanged:.1f} ms (goal <= {GOAL_OWN_MS:.0f} ms;"
        f" API time per unchanged service: {none['api'] / args.services * 1000:.1f} ms)"
    )
    per_run_path = around / args.services * 1000
    print(
        f"the run path around the target (synthesis, release record): {per_run_path:.1f} ms"
        f" per service; own time per unchanged service in `shipway run`: "
        f"{per_unchanged + per_run_path:.1f} ms (goal <= {GOAL_OWN_MS:.0f} ms)"
    )
    total = per_unchanged + per_run_path
    return 0 if only and total <= GOAL_OWN_MS else 1


if __name__ == "__main__":
    sys.exit(main())
