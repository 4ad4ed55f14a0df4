"""`GET /metrics`: the pipeline's state in Prometheus' text format, read from the state
database at each scrape.

The reads are store/metrics_reads.py's: read-only, one aggregate query per family, what
cannot change any more kept between scrapes (README: figures).

    shipway_runs{env,state}                  runs in each state (every state, 0 included)
    shipway_queue_depth{env}                 runs queued or running
    shipway_approvals_waiting{env}           runs awaiting approval
    shipway_release{env}                     the current release number (0: none)
    shipway_job_duration_seconds{env,stage}  histogram of the jobs that ran (a reused build
                                             or a skipped job has no duration)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from shipway.model import RunState
from shipway.store.metrics_reads import BUCKETS, Kept, Snapshot, read_snapshot

__all__ = ["BUCKETS", "CONTENT_TYPE", "Snapshot", "exposition", "read_snapshot"]

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics(Collector):
    """What one server shows at `/metrics`, its job-duration histogram kept between scrapes."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self._kept = Kept()
        self._lock = threading.Lock()  # scrapes may come at once (each on a thread)
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            snap = read_snapshot(self.database, self._kept)
        yield from families(snap)

    def exposition(self) -> bytes:
        """The text format of every family, read now."""
        return generate_latest(self._registry)


def families(snap: Snapshot) -> Iterable[Metric]:
    envs = snap.environments
    runs = GaugeMetricFamily(
        "shipway_runs", "Runs by environment and state", labels=["env", "state"]
    )
    for env in envs:
        for state in RunState:
            runs.add_metric([env, state.value], snap.runs.get((env, state.value), 0))
    yield runs
    for name, text, values in (
        ("shipway_queue_depth", "Runs queued or running, by environment", snap.queue),
        ("shipway_approvals_waiting", "Runs awaiting an approval", snap.approvals),
        ("shipway_release", "The current release number (0: none yet)", snap.releases),
    ):
        gauge = GaugeMetricFamily(name, text, labels=["env"])
        for env in envs:
            gauge.add_metric([env], values.get(env, 0))
        yield gauge
    histogram = HistogramMetricFamily(
        "shipway_job_duration_seconds",
        "Durations of the jobs that ran (one per service and stage), by environment and stage",
        labels=["env", "stage"],
    )
    for (env, stage), (counts, total, seconds) in sorted(snap.durations.items()):
        bounds = [(repr(b), c) for b, c in zip(BUCKETS, counts, strict=True)]
        histogram.add_metric([env, stage], [*bounds, ("+Inf", total)], seconds)
    yield histogram


def exposition(database: Path) -> bytes:
    """One scrape's text, read afresh (every job)."""
    return Metrics(database).exposition()
