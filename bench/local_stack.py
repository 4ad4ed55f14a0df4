"""The local AWS emulator: how long `shipway serve` takes to put every local stack back,
and what a function's call to its table costs through it.

    .venv/bin/python bench/local_stack.py [--services 20] [--requests 400]

N services, each with a DynamoDB table in `resources:` and two functions: `item` reads
one item of the table (GetItem through the emulator), `plain` answers without it. After
one `shipway run dev`, prints:
- the server's start until it is ready (server.json written: stacks put back), beside the
  same server over the same repository with the tables taken out (goal: ≤ 2 s with them);
- per request over one keep-alive connection, `item` against `plain` (median and p95):
  the difference is what the table call adds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from monorepo import git, make_repo, timed_run

GOAL_REPLAY_S = 2.0

SERVICE = """service: svc{n:02d}
provider:
  name: aws
  runtime: python3.11
  environment:
    TABLE: {{Ref: ItemsTable}}
functions:
  item:
    handler: handler.item
    events:
      - httpApi: GET /item
  plain:
    handler: handler.plain
    events:
      - httpApi: GET /plain
resources:
  Resources:
    ItemsTable:
      Type: AWS::DynamoDB::Table
      Properties:
        AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
        KeySchema: [{{AttributeName: id, KeyType: HASH}}]
        BillingMode: PAY_PER_REQUEST
"""
HANDLER = """import os
import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

def item(event, context):
    found = table.get_item(Key={"id": "1"}).get("Item")
    return {"statusCode": 200, "body": str(found)}

def plain(event, context):
    return {"statusCode": 200, "body": "None"}
"""
SHIPWAY_YML = "project: bench\nbuild: {sandbox: off}\nenvironments:\n  dev: {branch: dev}\n"


def files(n: int) -> dict[str, str]:
    return {"serverless.yml": SERVICE.format(n=n), "handler.py": HANDLER}


def start_server(repo: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    """`shipway serve` until its server.json exists: (process, URL, seconds)."""
    shipway = Path(sys.executable).with_name("shipway")
    server_file = repo / ".shipway" / "server.json"
    server_file.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(shipway), "serve", "--port", "0", "--repo", str(repo)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not server_file.exists():
        if proc.poll() is not None:
            sys.exit("the server did not start")
        time.sleep(0.005)
    ready = time.perf_counter() - started
    return proc, json.loads(server_file.read_text())["url"], ready


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


def latencies(url: str, path: str, count: int) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    out = []
    for i in range(count + 20):
        began = time.perf_counter()
        conn.request("GET", path)
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            sys.exit(f"GET {path} answered {answer.status}")
        if i >= 20:  # warm workers first
            out.append((time.perf_counter() - began) * 1000)
    conn.close()
    return out


def without_tables(repo: Path) -> None:
    """The same repository with its tables (and the variables that name them) taken out."""
    for n, folder in enumerate(sorted((repo / "services").iterdir())):
        text = SERVICE.format(n=n).split("resources:")[0]
        text = text.replace("  environment:\n    TABLE: {Ref: ItemsTable}\n", "")
        (folder / "serverless.yml").write_text(text)
    git(repo, "commit", "-qam", "no tables")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="shipway-bench-stack-"))
    try:
        repo = make_repo(root, args.services, files, SHIPWAY_YML)
        deploy, _ = timed_run(repo)  # checks the stacks on an emulator started for it
        replays = []
        for _ in range(3):
            proc, url, ready = start_server(repo)
            replays.append(ready)
            if len(replays) < 3:
                stop(proc)
        item = latencies(url, "/dev/svc00/item", args.requests)
        plain = latencies(url, "/dev/svc00/plain", args.requests)
        stop(proc)
        without_tables(repo)
        timed_run(repo)
        bare = []
        for _ in range(3):
            proc, _, ready = start_server(repo)
            bare.append(ready)
            stop(proc)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    replay = statistics.median(replays)
    print(f"{args.services} services, a DynamoDB table each, {os.cpu_count()} cores")
    print(f"first `shipway run dev` (stacks checked on an emulator of its own): {deploy:.2f} s")
    print(
        f"server ready, stacks put back: median {replay:.2f} s of {[round(r, 2) for r in replays]}"
        f" (goal ≤ {GOAL_REPLAY_S:.1f} s: {'met' if replay <= GOAL_REPLAY_S else 'NOT met'});"
        f" without the tables: {statistics.median(bare):.2f} s"
    )

    def p95(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.95) - 1]

    print(f"{'request':<22} {'median ms':>10} {'p95 ms':>8}")
    print(f"{'GetItem via emulator':<22} {statistics.median(item):>10.2f} {p95(item):>8.2f}")
    print(f"{'no AWS call':<22} {statistics.median(plain):>10.2f} {p95(plain):>8.2f}")
    added = statistics.median(item) - statistics.median(plain)
    print(f"a GetItem through the local emulator adds {added:.2f} ms (median)")


if __name__ == "__main__":
    main()
