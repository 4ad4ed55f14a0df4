"""The long fuzz run: seeded hostile repository states through `shipway validate` (and on a
share of them `print`, `synth`, `run`), counted by outcome and by defect class.

    .venv/bin/python bench/fuzz.py [--inputs 2000] [--seed 1] [--jobs CORES]
                                   [--commands validate,print,synth,run] [--results DIR]
    .venv/bin/python bench/fuzz.py --case SEED:INDEX [--keep DIR]   # replay one input

Each input is one mutated repository (the bundled example, or a real serverless.yml,
buildspec.yml or .env from the shared corpus when it is present). Each command runs in a
child forked from a process that already imported Shipway, with a 1 GiB address-space limit
and a 20 s timeout; one command in 50 is also run as a real `shipway` process to show both
agree. Outcomes: `ok` (exit 0), `rejected` (exit 2, every error naming its file or argument),
`failed` (a run whose build said no), `defect` (traceback, crash, timeout, memory, an error
naming no file, a canary from outside the commit or a secret in any output, a mutation that
must be refused and was accepted, a write outside the repository). The first reproducer of
each defect class is written under --results. Exit status 1 when there is any defect.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the engine lives with the tests: tests/fuzz/

from tests.fuzz import runner  # noqa: E402
from tests.fuzz.bases import all_bases  # noqa: E402
from tests.fuzz.campaign import CaseReport, campaign, run_case, save_reproducers  # noqa: E402
from tests.fuzz.mutate import generate  # noqa: E402

COMMANDS = ("validate", "print", "synth", "run")


def _progress(total: int) -> object:
    done = [0]
    defects = [0]
    began = time.monotonic()

    def on_report(report: CaseReport) -> None:
        done[0] += 1
        # said as they are found, so a run stopped early still tells what it saw
        for cmd, verdict in report.defects:
            defects[0] += 1
            print(f"  defect in {report.name}: shipway {cmd[:120]}: {verdict.key}", file=sys.stderr)
        if done[0] % 500 == 0 or done[0] == total:
            rate = done[0] / (time.monotonic() - began)
            print(
                f"  {done[0]}/{total} inputs, {rate:.1f}/s, {defects[0]} defects",
                file=sys.stderr,
                flush=True,
            )

    return on_report


def replay(spec: str, keep: Path | None, run_share: float) -> int:
    seed, index = (int(x) for x in spec.split(":"))
    canaries, bases = all_bases(seed)
    case = generate(seed, index, bases, canaries, run_share)
    runner.preload()
    root = keep or Path(tempfile.mkdtemp(prefix="shipway-fuzz-case-"))
    layout = runner.Layout(root)
    report = run_case(case, layout)
    print(report.description)
    for cmd, verdict in report.verdicts:
        print(f"  shipway {cmd[:120]}: {verdict.key} {verdict.detail[:300]}")
    print(f"repository: {layout.repo}")
    return 1 if report.defects else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--commands", default=",".join(COMMANDS))
    parser.add_argument("--run-share", type=float, default=0.01, help="inputs that also run")
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--case", default=None, help="replay one input: SEED:INDEX")
    parser.add_argument("--keep", type=Path, default=None, help="with --case: lay it out here")
    args = parser.parse_args(argv)
    if args.case:
        return replay(args.case, args.keep, args.run_share)
    wanted = set(args.commands.split(","))
    unknown = wanted - set(COMMANDS)
    if unknown or "validate" not in wanted:
        parser.error(f"--commands takes validate plus any of {', '.join(COMMANDS[1:])}")
    results = args.results or Path(tempfile.gettempdir()) / f"shipway-fuzz-{args.seed}"
    with tempfile.TemporaryDirectory(prefix="shipway-fuzz-") as work:
        totals = campaign(
            args.seed,
            args.inputs,
            Path(work),
            jobs=args.jobs,
            run_share=args.run_share if "run" in wanted else 0.0,
            commands=wanted,
            on_report=_progress(args.inputs),  # type: ignore[arg-type]
        )
    save_reproducers(totals, args.seed, results, args.run_share if "run" in wanted else 0.0)
    print(f"seed {args.seed}, {args.jobs} jobs, commands {','.join(sorted(wanted))}")
    print(totals.summary(results))
    return 1 if totals.defects else 0


if __name__ == "__main__":
    sys.exit(main())
