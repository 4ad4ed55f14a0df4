"""The local gateway under load, beside serverless-offline on the same handler.

A generated one-function python3.11 service (`GET /quote/{pair}`, a handler that returns a
small JSON document) is deployed to the local target with `shipway run`, then served by
`shipway serve` (`GET /dev/quotes/quote/{pair}`). When npm is available, serverless-offline
(serverless@3.40.0 + serverless-offline@13.10.1, installed into a cache folder outside the
checkout) serves the same handler in its default mode. The same keep-alive load runs against
each at 1, 8 and 32 connections (wrk if installed, else a Python load generator), after a
warm-up, and the figures are printed side by side with the ratio and the goal:
>= 1.5x serverless-offline's req/s at 8 and 32 connections with a p99 no worse than its,
>= 1.0x at one connection.

    .venv/bin/python bench/gateway.py [--duration 10] [--connections 1,8,32] [--event httpApi]
                                      [--no-offline]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from monorepo import make_repo, timed_run

SLS_CACHE = Path.home() / ".cache" / "shipway-sls-offline"
SLS_PACKAGES = ("serverless@3.40.0", "serverless-offline@13.10.1")
HANDLER = """import json


def quote(event, context):
    pair = (event.get("pathParameters") or {}).get("pair", "")
    body = {"pair": pair.upper(), "bid": 1.0842, "ask": 1.0845, "source": "bench"}
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }
"""
SERVERLESS = """service: quotes
frameworkVersion: '3'
provider:
  name: aws
  runtime: python3.11
  region: us-east-1
  stage: dev
functions:
  quote:
    handler: handler.quote
    timeout: 6
    events:
      - {event}:
          method: GET
          path: /quote/{{pair}}
{plugins}"""
SHIPWAY_YML = "project: bench\nenvironments:\n  dev:\n    branch: dev\n    target: local\n"
GOALS = {1: 1.0, 8: 1.5, 32: 1.5}  # req/s ratio wanted at each connection count


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url_path: str, port: int, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited ({proc.returncode}) before it answered")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", url_path)
            res = conn.getresponse()
            body = res.read()
            conn.close()
            if res.status == 200:
                return
            print(f"  waiting: {res.status} {body[:200]!r}", file=sys.stderr)
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"nothing answered 200 at {url_path} on port {port} within {seconds:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --------------------------------------------------------------------------- load


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"unreadable wrk latency {text!r}")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(url: str, connections: int, duration: float) -> Load:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    return Load(rps, p50, p99, errors)


def python_load(url: str, connections: int, duration: float) -> Load:
    """Keep-alive GETs from `connections` threads (the GIL bounds it: use wrk when you can)."""
    m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)(/.*)", url)
    assert m is not None
    port, path = int(m.group(1)), m.group(2)
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    end = time.monotonic() + duration

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while (now := time.monotonic()) < end:
            try:
                conn.request("GET", path)
                res = conn.getresponse()
                res.read()
                if res.status != 200:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            latencies[i].append(time.monotonic() - now)
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    every = sorted(x for xs in latencies for x in xs)
    if not every:
        return Load(0.0, 0.0, 0.0, sum(errors))
    q = statistics.quantiles(every, n=100) if len(every) > 1 else [every[0]] * 99
    return Load(len(every) / elapsed, q[49] * 1000, q[98] * 1000, sum(errors))


def measure(url: str, connections: list[int], duration: float) -> dict[int, Load]:
    tool = wrk if shutil.which("wrk") else python_load
    results = {}
    for n in connections:
        tool(url, n, min(2.0, duration))  # warm-up: workers started, caches filled
        results[n] = tool(url, n, duration)
        r = results[n]
        print(
            f"  {n:>3} connections: {r.rps:>9,.0f} req/s  p50 {r.p50_ms:6.2f} ms"
            f"  p99 {r.p99_ms:6.2f} ms  errors {r.errors}",
            file=sys.stderr,
        )
    return results


# --------------------------------------------------------------------------- servers


def service_files(event: str) -> dict[str, str]:
    return {"serverless.yml": SERVERLESS.format(event=event, plugins=""), "handler.py": HANDLER}


def bench_shipway(
    root: Path, event: str, connections: list[int], duration: float
) -> dict[int, Load]:
    repo = make_repo(root / "shipway", 1, lambda n: service_files(event), SHIPWAY_YML)
    timed_run(repo)
    shipway = Path(sys.executable).with_name("shipway")
    port = free_port()
    proc = subprocess.Popen(
        [str(shipway), "serve", "--port", str(port), "--repo", str(repo)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        path = "/dev/quotes/quote/eurusd"
        wait_http(path, port, proc, 60)
        print(f"shipway serve: http://127.0.0.1:{port}{path}", file=sys.stderr)
        return measure(f"http://127.0.0.1:{port}{path}", connections, duration)
    finally:
        stop(proc)


def offline_binary() -> tuple[Path | None, str]:
    sls = SLS_CACHE / "node_modules" / ".bin" / "serverless"
    plugin = SLS_CACHE / "node_modules" / "serverless-offline"
    if sls.exists() and plugin.exists():
        return sls, ""
    if not shutil.which("npm"):
        return None, "npm is not installed"
    print(f"installing {' '.join(SLS_PACKAGES)} into {SLS_CACHE} …", file=sys.stderr)
    proc = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(SLS_CACHE), *SLS_PACKAGES],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or not sls.exists():
        return None, f"npm install failed: {proc.stderr.strip()[-300:]}"
    return sls, ""


def bench_offline(
    root: Path, sls: Path, event: str, connections: list[int], duration: float
) -> dict[int, Load]:
    folder = root / "offline"
    folder.mkdir()
    (folder / "handler.py").write_text(HANDLER)
    (folder / "serverless.yml").write_text(
        SERVERLESS.format(event=event, plugins="plugins:\n  - serverless-offline\n")
    )
    # the plugin is resolved from the service folder's node_modules, as in a real project
    (folder / "node_modules").symlink_to(SLS_CACHE / "node_modules")
    port, lambda_port = free_port(), free_port()
    env = {**os.environ, "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off"}
    env.setdefault("AWS_ACCESS_KEY_ID", "bench")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    proc = subprocess.Popen(
        [str(sls), "offline", "start", "--httpPort", str(port), "--lambdaPort", str(lambda_port)],
        cwd=folder,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        path = "/dev/quote/eurusd" if event == "http" else "/quote/eurusd"
        wait_http(path, port, proc, 120)
        print(f"serverless offline: http://127.0.0.1:{port}{path}", file=sys.stderr)
        return measure(f"http://127.0.0.1:{port}{path}", connections, duration)
    finally:
        stop(proc)


# --------------------------------------------------------------------------- report


def report(ours: dict[int, Load], theirs: dict[int, Load] | None, why: str) -> None:
    tool = "wrk -t1 --latency" if shutil.which("wrk") else "python keep-alive load"
    print(f"{os.cpu_count()} cores, load from {tool}")
    head = f"{'conns':>5} | {'shipway req/s':>13} {'p50 ms':>7} {'p99 ms':>7}"
    if theirs is None:
        print(head)
        for n, r in ours.items():
            print(f"{n:>5} | {r.rps:>13,.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f}")
        print(f"serverless-offline skipped: {why}")
        return
    print(f"{head} | {'offline req/s':>13} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>5} goal")
    for n, r in ours.items():
        o = theirs[n]
        ratio = r.rps / o.rps if o.rps else float("inf")
        want = GOALS.get(n, 1.0)
        met = ratio >= want and (n == 1 or r.p99_ms <= o.p99_ms) and not r.errors
        print(
            f"{n:>5} | {r.rps:>13,.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f}"
            f" | {o.rps:>13,.0f} {o.p50_ms:>7.2f} {o.p99_ms:>7.2f}"
            f" | {ratio:>4.2f}x {'met' if met else 'missed'} (>= {want:.1f}x"
            f"{', p99 <= offline' if n != 1 else ''})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load (10)")
    parser.add_argument("--connections", default="1,8,32", help="comma-separated (1,8,32)")
    parser.add_argument("--event", choices=("httpApi", "http"), default="httpApi")
    parser.add_argument("--no-offline", action="store_true", help="Shipway alone")
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",") if c.strip()]
    root = Path(tempfile.mkdtemp(prefix="shipway-bench-gw-"))
    try:
        ours = bench_shipway(root, args.event, connections, args.duration)
        theirs: dict[int, Load] | None = None
        why = "--no-offline"
        if not args.no_offline:
            sls, why = offline_binary()
            if sls is not None:
                theirs = bench_offline(root, sls, args.event, connections, args.duration)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({"event": args.event, "duration_s": args.duration}))
    report(ours, theirs, why)


if __name__ == "__main__":
    main()
