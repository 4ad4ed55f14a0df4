"""`shipway logs RUN [--follow]`: a run's build logs, read only from the state directory,
bounded in what they show and in the memory they take."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

from shipway.errors import NotFound
from shipway.pipeline.paths import StatePaths
from shipway.pipeline.recovery import recover
from shipway.store.sqlite import Store

__all__ = ["LOG_CHUNK", "LOG_SHOWN", "follow", "run_logs"]

# `shipway logs` shows at most the end of a log this large; --follow reads in chunks
LOG_SHOWN = 16 * 1024 * 1024
LOG_CHUNK = 1024 * 1024


def _log_tail(path: Path) -> str:
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        skipped = max(0, size - LOG_SHOWN)
        f.seek(skipped)
        data = f.read(LOG_SHOWN)
    note = f"(the first {skipped} bytes of {path.name} are not shown)\n" if skipped else ""
    return note + data.decode("utf-8", "replace")


def run_logs(store: Store, paths: StatePaths, run_id: str, service: str | None = None) -> str:
    """A run's build logs, every service in order (the end of each, when huge)."""
    run = store.run(run_id)
    jobs = [j for j in store.jobs(run.id) if j.log_path]
    if service:
        jobs = [j for j in jobs if j.service == service]
        if not jobs:
            raise NotFound(f"run `{run_id}` has no log for service `{service}`")
    parts = []
    for job in jobs:
        path = _log_file(paths, job.log_path)
        text = _log_tail(path) if path else "(log missing)\n"
        parts.append(f"==> {job.service} ({job.stage.value}, {job.state.value}) <==\n{text}")
    return "\n".join(parts)


def _log_file(paths: StatePaths, stored: str | None) -> Path | None:
    """A log path from the store, if it is a file inside the state directory: the
    database is not trusted to name files elsewhere."""
    path = paths.inside(stored) if stored else None
    return path if path is not None and path.is_file() else None


def follow(
    store: Store, paths: StatePaths, run_id: str, service: str | None = None, poll_s: float = 0.2
) -> Iterator[str]:
    """Lines of a run's logs as they are written, each prefixed with its service, until
    the run has finished and every log is read to its end."""
    offsets: dict[str, int] = {}
    pending: dict[str, bytes] = {}
    polls = 0
    while True:
        polls += 1
        if polls % 10 == 0:  # the run's process may have died meanwhile: never follow for ever
            recover(store, paths)
        finished = store.run(run_id).state.finished
        progressed = False
        for job in store.jobs(run_id):
            if not job.log_path or (service and job.service != service):
                continue
            path = _log_file(paths, job.log_path)
            if path is None:
                continue
            try:
                with open(path, "rb") as f:
                    f.seek(offsets.get(job.log_path, 0))
                    data = f.read(LOG_CHUNK)  # bounded memory, whatever a build wrote
            except FileNotFoundError:
                continue
            progressed = progressed or bool(data)
            offsets[job.log_path] = offsets.get(job.log_path, 0) + len(data)
            *lines, rest = (pending.get(job.log_path, b"") + data).split(b"\n")
            while len(rest) >= LOG_CHUNK:  # a line without end: show it in pieces
                lines, rest = [*lines, rest[:LOG_CHUNK]], rest[LOG_CHUNK:]
            pending[job.log_path] = rest
            for line in lines:
                yield f"[{job.service}] {line.decode('utf-8', 'replace')}"
        if progressed:
            continue  # read on before deciding the run's logs are complete
        if finished:
            for stored, rest in pending.items():
                if rest:
                    name = Path(stored).stem
                    yield f"[{name}] {rest.decode('utf-8', 'replace')}"
            return
        time.sleep(poll_s)
