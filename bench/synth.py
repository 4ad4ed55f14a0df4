"""Synthesis speed: `shipway.synth.synthesize` on 50 generated services, side by side with
`serverless package` (v3.40.0) on a sample of them when the oracle is installed.

    .venv/bin/python bench/synth.py [--services 50] [--sample 3] [--oracle PATH]

Shipway's time per service includes reading and resolving serverless.yml (`load_service`)
plus `synthesize`; the lint time (cfn-lint, rules built once) is shown apart.
Goal: at least 50x faster per service than `serverless package`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth_oracle

from shipway.config.serverless import load_service
from shipway.synth import synthesize
from shipway.synth.lint import lint

GOAL = 50.0


def generate(root: Path, count: int) -> list[Path]:
    """`count` services: the kitchen-sink service with a different name and function count."""
    dirs = []
    for i in range(count):
        d = root / f"svc{i:02d}"
        d.mkdir(parents=True)
        text = synth_oracle.KITCHEN.replace("service: kitchen", f"service: svc{i:02d}")
        text = text.replace("kitchen-uploads-dev", f"svc{i:02d}-uploads-dev")
        extra = "".join(
            f"  extra{j}:\n    handler: app.extra{j}\n    events:\n"
            f"      - httpApi: GET /extra/{j}\n"
            for j in range(i % 5)
        )
        text = text.replace("functions:\n", "functions:\n" + extra, 1)
        (d / "serverless.yml").write_text(text, encoding="utf-8")
        (d / "app.py").write_text("def api(e, c):\n    return {}\n", encoding="utf-8")
        dirs.append(d)
    return dirs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--sample", type=int, default=3)
    parser.add_argument("--oracle")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="shipway-bench-") as tmp:
        root = Path(tmp)
        dirs = generate(root / "services", args.services)
        times: list[float] = []
        lint_times: list[float] = []
        resources = 0
        lint(synthesize(load_service(dirs[0], "x", stage="dev", env={}, params={})))  # warm-up
        for d in dirs:
            start = time.perf_counter()
            definition = load_service(
                d,
                f"{d.name}/serverless.yml",
                stage="dev",
                env={},
                params={},
                options={"region": "us-east-1"},
            )
            template = synthesize(definition, timestamp_ms=1_700_000_000_000)
            times.append(time.perf_counter() - start)
            resources += len(template["Resources"])
            start = time.perf_counter()
            lint(template)
            lint_times.append(time.perf_counter() - start)
        ours = statistics.mean(times)
        print(
            f"shipway synth: {len(dirs)} services, {resources} resources, "
            f"mean {ours * 1000:.2f} ms/service (median {statistics.median(times) * 1000:.2f} ms, "
            f"total {sum(times):.2f} s)"
        )
        print(
            f"cfn-lint:      mean {statistics.mean(lint_times) * 1000:.0f} ms/template "
            f"(median {statistics.median(lint_times) * 1000:.0f} ms)"
        )
        oracle = synth_oracle.find_oracle(args.oracle)
        if oracle is None:
            print("serverless package: oracle not installed; no side-by-side figure")
            return 0
        theirs: list[float] = []
        for d in dirs[: args.sample]:
            _, seconds = synth_oracle.run_oracle(oracle, d, root)
            theirs.append(seconds)
            print(f"  {d.name}: serverless package {seconds:.2f} s")
        framework = statistics.mean(theirs)
        speedup = framework / ours
        verdict = "meets" if speedup >= GOAL else "misses"
        print(f"serverless package: mean {framework:.2f} s/service over {len(theirs)} services")
        print(f"speed-up: {speedup:,.0f}x per service ({verdict} the goal of {GOAL:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
