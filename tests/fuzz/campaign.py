"""A fuzz campaign: generate cases from a seed, run them on worker processes, classify every
command, count outcomes and defect classes, and save the first reproducer of each class."""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import stat
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz import runner
from tests.fuzz.bases import Base, Canaries, all_bases
from tests.fuzz.classify import DEFECT, PASSWD, SAME, Verdict, classify
from tests.fuzz.mutate import Case, generate


@dataclass(frozen=True)
class CaseReport:
    name: str
    description: str
    verdicts: tuple[tuple[str, Verdict], ...]  # (command line, verdict)
    seconds: float

    @property
    def defects(self) -> list[tuple[str, Verdict]]:
        return [(cmd, v) for cmd, v in self.verdicts if v.outcome == DEFECT]


def forbidden(canaries: Canaries) -> dict[str, bytes]:
    return {
        "escape": canaries.escape.encode(),
        "escape:/etc/passwd": PASSWD,
        "secret-leak": canaries.secret.encode(),
    }


def run_case(case: Case, layout: runner.Layout, equivalence: bool = False) -> CaseReport:
    """Lay the case out, run its commands in order, and judge each."""
    start = time.monotonic()
    layout.materialise(case)
    before = runner.snapshot(layout.outside)
    env = layout.child_env(case)
    repo = str(layout.repo)
    verdicts: list[tuple[str, Verdict]] = []
    for argv in case.commands:
        result = runner.in_fork(argv, layout.repo, env, layout.case_dir / "out")
        verdict = classify(result, repo, forbidden(case.canaries), case.reject)
        verdicts.append((" ".join(a[:80] for a in argv), verdict))
        if equivalence and argv[0] != "run":
            real = runner.in_subprocess(argv, layout.repo, env, layout.case_dir / "out")
            again = classify(real, repo, forbidden(case.canaries), case.reject)
            if (real.code, again.key) != (result.code, verdict.key):
                detail = f"in-process {result.code} {verdict.key}, real {real.code} {again.key}"
                verdicts.append(("equivalence", Verdict(DEFECT, "fork-differs", detail)))
            else:
                verdicts.append(("equivalence", Verdict(SAME)))
    if runner.snapshot(layout.outside) != before:
        verdicts.append(("after", Verdict(DEFECT, "wrote-outside", str(layout.outside))))
    if any(argv[0] == "run" for argv in case.commands):
        configured = case.env.get("SHIPWAY_HOME")
        home = Path(layout.expand(configured)) if configured else layout.repo / ".shipway"
        verdicts.extend(("state", v) for v in scan_state(home, case.canaries))
    return CaseReport(case.name, case.describe(), tuple(verdicts), time.monotonic() - start)


def scan_state(home: Path, canaries: Canaries) -> list[Verdict]:
    """The state directory after a run: no file from outside the commit, no secret in the
    database or the logs, nothing readable by others."""
    found: dict[str, Verdict] = {}
    if not home.is_dir() or home.is_symlink():
        return []
    for dirpath, dirnames, filenames in os.walk(home):
        if "workspace" in Path(dirpath).parts:
            dirnames[:] = []  # the exported commit itself
            continue
        for name in filenames + dirnames:
            path = Path(dirpath) / name
            mode = path.lstat().st_mode
            kind_ok = stat.S_ISREG(mode) or stat.S_ISDIR(mode)
            if kind_ok and mode & 0o077 and "state-mode" not in found:
                rel = path.relative_to(home)
                found["state-mode"] = Verdict(DEFECT, "state-mode", f"{rel} {oct(mode)}")
            if not stat.S_ISREG(mode):
                continue
            for data in _contents(path):
                if canaries.escape.encode() in data or PASSWD in data:
                    found.setdefault(
                        "escape-state", Verdict(DEFECT, "escape-state", str(path.relative_to(home)))
                    )
                if canaries.secret.encode() in data and name.endswith((".db", "-wal", ".log")):
                    found.setdefault(
                        "secret-stored",
                        Verdict(DEFECT, "secret-stored", str(path.relative_to(home))),
                    )
    return list(found.values())


def _contents(path: Path) -> Iterator[bytes]:
    if path.stat().st_size > 64 * 1024 * 1024:
        return
    data = path.read_bytes()
    yield data
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    if info.file_size < 16 * 1024 * 1024:
                        yield z.read(info)
        except (zipfile.BadZipFile, OSError):
            return


# --------------------------------------------------------------------------- the campaign


@dataclass
class Totals:
    inputs: int = 0
    commands: Counter[str] = field(default_factory=Counter)  # outcome -> count
    by_command: Counter[tuple[str, str]] = field(default_factory=Counter)  # (command, outcome)
    defects: Counter[str] = field(default_factory=Counter)  # class -> count
    first: dict[str, tuple[CaseReport, str, Verdict]] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of the workers and every command they ran

    def add(self, report: CaseReport) -> None:
        self.inputs += 1
        for cmd, verdict in report.verdicts:
            self.commands[verdict.outcome] += 1
            self.by_command[(cmd.split()[0], verdict.outcome)] += 1
            if verdict.outcome == DEFECT:
                key = f"{verdict.defect} [{cmd.split()[0]}]"
                self.defects[key] += 1
                self.first.setdefault(key, (report, cmd, verdict))

    def summary(self, results: Path | None = None) -> str:
        rate = self.inputs / self.seconds if self.seconds else 0.0
        cpu = self.cpu_seconds / self.inputs if self.inputs else 0.0
        lines = [
            f"{self.inputs} inputs in {self.seconds:.1f} s ({rate:.1f} inputs/s; "
            f"{cpu * 1000:.0f} ms of CPU per input, {1 / cpu if cpu else 0:.1f} inputs/s a core)",
            "commands: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.commands.items()))
            + f"; defects: {sum(self.defects.values())}",
        ]
        for name in sorted({c for c, _ in self.by_command}):
            counts = sorted((o, n) for (c, o), n in self.by_command.items() if c == name)
            lines.append(f"  {name:<12} " + ", ".join(f"{o} {n}" for o, n in counts))
        lines.append("defect classes:" if self.defects else "defect classes: none")
        for key, count in self.defects.most_common():
            report, cmd, verdict = self.first[key]
            lines.append(f"  {count:6d}  {key}")
            lines.append(f"          first: {report.description}")
            lines.append(f"          `shipway {cmd}` -> {verdict.detail[:200]}")
        if results is not None and self.first:
            lines.append(f"reproducers: {results}")
        return "\n".join(lines)


_WORKER: dict[str, object] = {}


def _init_worker(
    root: str, seed: int, run_share: float, equivalence_every: int, commands: set[str] | None
) -> None:
    canaries, bases = all_bases(seed)
    layout = runner.Layout(Path(root) / f"worker-{os.getpid()}", Path(root) / "templates")
    runner.warm_up(layout.root, bases[0].files)
    _WORKER.update(
        bases=bases,
        canaries=canaries,
        layout=layout,
        seed=seed,
        run_share=run_share,
        every=equivalence_every,
        commands=commands,
    )


def _work(index: int) -> CaseReport:
    bases: list[Base] = _WORKER["bases"]  # type: ignore[assignment]
    canaries: Canaries = _WORKER["canaries"]  # type: ignore[assignment]
    layout: runner.Layout = _WORKER["layout"]  # type: ignore[assignment]
    case = generate(_WORKER["seed"], index, bases, canaries, _WORKER["run_share"])  # type: ignore[arg-type]
    every: int = _WORKER["every"]  # type: ignore[assignment]
    allowed: set[str] | None = _WORKER["commands"]  # type: ignore[assignment]
    if allowed is not None:  # validate, print, synth, run: only those asked for
        main = {"validate", "print", "synth", "run"}
        case.commands = [c for c in case.commands if c[0] in allowed or c[0] not in main]
    return run_case(case, layout, equivalence=bool(every) and index % every == 0)


def campaign(
    seed: int,
    inputs: int,
    workdir: Path,
    jobs: int = 0,
    run_share: float = 0.02,
    equivalence_every: int = 100,
    on_report: Callable[[CaseReport], None] | None = None,
    start: int = 0,
    commands: set[str] | None = None,
) -> Totals:
    """Run cases `start` … `start + inputs - 1` of `seed`; `jobs` workers (default: cores)."""
    runner.preload()
    jobs = jobs or os.cpu_count() or 1
    totals = Totals()
    began = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = before.ru_utime + before.ru_stime
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(
        jobs, _init_worker, (str(workdir), seed, run_share, equivalence_every, commands)
    ) as pool:
        for report in pool.imap_unordered(_work, range(start, start + inputs), chunksize=1):
            totals.add(report)
            if on_report is not None:
                on_report(report)
        pool.close()
        pool.join()  # the workers end (and are counted) before the figures are taken
    totals.seconds = time.monotonic() - began
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    totals.cpu_seconds = used.ru_utime + used.ru_stime - cpu_before
    return totals


def save_reproducers(totals: Totals, seed: int, results: Path, run_share: float = 0.02) -> None:
    """For each defect class, its first case: the mutated files, the case's description,
    the command and the verdict (`bench/fuzz.py --case SEED:INDEX --keep DIR` lays it out)."""
    canaries, bases = all_bases(seed)
    results.mkdir(parents=True, exist_ok=True)
    index: list[dict[str, object]] = []
    for n, (key, (report, cmd, verdict)) in enumerate(sorted(totals.first.items())):
        case = generate(seed, int(report.name.split(":")[1]), bases, canaries, run_share)
        folder = results / f"{n:02d}-{_slug(key)}"
        folder.mkdir(exist_ok=True)
        for rel, data in case.files.items():
            path = folder / "files" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        entry = {
            "class": key,
            "count": totals.defects[key],
            "case": report.name,
            "base": case.base.name,
            "mutations": case.mutations,
            "deleted": sorted(case.deleted),
            "symlinks": case.symlinks,
            "env": case.env,
            "command": f"shipway {cmd}",
            "detail": verdict.detail,
        }
        (folder / "case.json").write_text(json.dumps(entry, indent=2) + "\n")
        index.append(entry)
    (results / "index.json").write_text(json.dumps(index, indent=2) + "\n")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")[:60]
