"""The cost of the build sandbox: one service built with and without bubblewrap.

A build of `--commands` trivial commands (`true`) is run `--repeat` times each way; the
figures are the median build time and the extra cost per build and per command.

    .venv/bin/python bench/sandbox.py [--commands 50] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from shipway.build.runner import BuildRequest, run_build
from shipway.build.sandbox import unavailable
from shipway.config.buildspec import parse_buildspec
from shipway.model import JobState


def _request(root: Path, commands: int, sandbox: bool) -> BuildRequest:
    service = root / "ws" / "services" / "svc"
    service.mkdir(parents=True, exist_ok=True)
    (service / "handler.py").write_text("def main(e, c):\n    return 1\n")
    spec_file = root / "buildspec.yml"
    lines = ["version: 0.2", "phases:", "  build:", "    commands:"]
    lines += ["      - 'true'"] * commands
    lines += ["artifacts: {files: [handler.py]}"]
    spec_file.write_text("\n".join(lines) + "\n")
    return BuildRequest(
        service="svc",
        service_dir=service,
        workspace=root / "ws",
        buildspec=parse_buildspec(spec_file, "buildspec.yml"),
        env={},
        build_vars={},
        package_patterns=(),
        exclude_files=(),
        out_zip=root / "out" / "svc.zip",
        log_path=root / "build.log",
        timeout_s=600,
        sandbox=sandbox,
    )


def _median_build(root: Path, commands: int, sandbox: bool, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        req = _request(root, commands, sandbox)
        started = time.perf_counter()
        result = run_build(req)
        times.append(time.perf_counter() - started)
        assert result.state is JobState.SUCCEEDED, result.error
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    why = unavailable()
    if why is not None:
        raise SystemExit(f"cannot measure: {why}")
    with tempfile.TemporaryDirectory(prefix="shipway-bench-sandbox-") as tmp:
        root = Path(tmp)
        figures = {}
        for commands in (1, args.commands):
            for sandbox in (False, True):
                figures[commands, sandbox] = _median_build(root, commands, sandbox, args.repeat)
    n = args.commands
    per_build = figures[1, True] - figures[1, False]
    per_command = (
        (figures[n, True] - figures[1, True]) - (figures[n, False] - figures[1, False])
    ) / (n - 1)
    print(f"{'build of':<16}{'unsandboxed':>14}{'sandboxed':>14}")
    for commands in (1, n):
        print(
            f"{commands:>4} command(s){figures[commands, False] * 1000:>12.1f}ms"
            f"{figures[commands, True] * 1000:>12.1f}ms"
        )
    print(f"sandbox cost per build (container start): {per_build * 1000:.1f} ms")
    print(f"sandbox cost per command: {per_command * 1000:.2f} ms")


if __name__ == "__main__":
    main()
