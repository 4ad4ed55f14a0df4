"""A release across several stacks: all services or none.

Services deploy in dependency order, independent ones in parallel (at most `bound` at a
time per account and region). When one fails, no new deploy starts; those running
finish; then every stack this run changed is returned to its previous template (in
reverse order of completion, which is reverse dependency order) and every stack this
run created is deleted. The result says, per service, what happened.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from shipway.errors import ShipwayError, WorkFailed
from shipway.model import (
    ApplyResult,
    DeployInput,
    DeployRequest,
    ServiceOutcome,
    ServiceResult,
)
from shipway.targets.aws.deployer import Deployed, Deployer, StackFailed, stack_of
from shipway.targets.protocol import Prepare

__all__ = ["DEFAULT_BOUND", "Cancelled", "Prepare", "deploy_release"]

DEFAULT_BOUND = 4


#: one bound per account and region, shared by every release this process runs
_BOUNDS: dict[tuple[str, str], threading.BoundedSemaphore] = {}
_BOUNDS_LOCK = threading.Lock()


def _bound(key: tuple[str, str], size: int) -> threading.BoundedSemaphore:
    with _BOUNDS_LOCK:
        found = _BOUNDS.get(key)
        if found is None:
            found = _BOUNDS[key] = threading.BoundedSemaphore(size)
        return found


class Cancelled(WorkFailed):
    """The run was interrupted while stacks deployed: what it changed is rolled back."""


@dataclass
class _Failure:
    service: str
    error: BaseException


def deploy_release(
    deployer: Deployer,
    request: DeployRequest,
    *,
    bound: int = DEFAULT_BOUND,
    place: tuple[str, str] = ("", ""),
    prepare: Prepare | None = None,
    only: Sequence[str] | None = None,
) -> ApplyResult:
    """Deploys `request` whole or not at all. `place`: (account, region), the key of the
    concurrency bound. `only`: the services to deploy (others are looked at, never
    changed: their outputs still feed `prepare`); default all."""
    items = {s.definition.service: s for s in request.services}
    names = list(items)
    wanted = set(names if only is None else only)
    deps = {n: [d for d in items[n].depends_on if d in items] for n in names}
    semaphore = _bound(place, max(1, bound))
    done: list[Deployed] = []  # in completion order
    outputs: dict[str, Mapping[str, str]] = {}
    failure: _Failure | None = None
    lock = threading.Lock()

    def one(name: str) -> Deployed:
        item = items[name]
        with lock:
            seen = dict(outputs)
        if prepare is not None:
            item = prepare(item, seen)
        with semaphore:
            if name not in wanted:
                return _look(deployer, item)
            return deployer.deploy(item, force=request.force)

    started: set[str] = set()
    with ThreadPoolExecutor(max_workers=max(1, bound), thread_name_prefix="deploy") as pool:
        running: dict[Future[Deployed], str] = {}
        while True:
            if failure is None:
                finished = {d.service for d in done}
                for name in names:
                    if name not in started and all(d in finished for d in deps[name]):
                        started.add(name)
                        running[pool.submit(one, name)] = name
            if not running:
                break
            try:
                # with a timeout: a Ctrl-C the kernel hands to a deploy thread is seen only
                # when this thread runs again
                ready, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                # Ctrl-C or SIGTERM: start nothing more, let the running stacks finish
                # (CloudFormation carries on anyway), then undo the run
                failure = failure or _Failure("", Cancelled("cancelled by the user"))
                continue
            for future in ready:
                name = running.pop(future)
                try:
                    result = future.result()
                except BaseException as exc:  # any failure: recorded, then rolled back
                    failure = failure or _Failure(name, exc)
                    if isinstance(exc, StackFailed) and exc.created:
                        done.append(_created_and_failed(name, exc))
                    continue
                with lock:
                    outputs[result.stack] = result.outputs
                done.append(result)

    if failure is None:
        return ApplyResult(
            env=request.env,
            ok=True,
            services=tuple(_result(d) for d in sorted(done, key=lambda d: names.index(d.service))),
        )
    return _roll_back(deployer, request, names, done, failure)


def _look(deployer: Deployer, item: DeployInput) -> Deployed:
    """A service outside `only`: its stack's outputs, nothing changed."""
    info = deployer.client.describe_stack(stack_of(item))
    outputs = info.outputs if info else {}
    return Deployed(
        item.definition.service,
        stack_of(item),
        ServiceOutcome.UNCHANGED,
        False,
        "",
        None,
        {},
        False,
        outputs,
        message="not part of this deploy",
    )


def _created_and_failed(name: str, exc: StackFailed) -> Deployed:
    return Deployed(
        name, exc.stack, ServiceOutcome.FAILED, True, exc.bucket, None, {}, False, message=str(exc)
    )


def _roll_back(
    deployer: Deployer,
    request: DeployRequest,
    names: list[str],
    done: list[Deployed],
    failure: _Failure,
) -> ApplyResult:
    results: dict[str, ServiceResult] = {}
    for item in reversed(done):
        if item.outcome == ServiceOutcome.UNCHANGED:
            results[item.service] = _result(item)
            continue
        failed_here = item.outcome == ServiceOutcome.FAILED
        try:
            what = deployer.restore(item)
        except (ShipwayError, WorkFailed) as exc:
            outcome = ServiceOutcome.FAILED if failed_here else ServiceOutcome.ROLLBACK_FAILED
            results[item.service] = ServiceResult(
                item.service,
                outcome,
                item.stack,
                f"rollback failed: {exc}",
                created=item.created,
            )
            continue
        if failed_here:
            continue  # reported below, with the failure
        results[item.service] = ServiceResult(
            item.service,
            ServiceOutcome.ROLLED_BACK,
            item.stack,
            what,
            changes=item.changes,
            created=item.created,
        )
    error = failure.error
    event = error.event if isinstance(error, StackFailed) else None
    summary = f"service `{failure.service}` failed: {error}" if failure.service else str(error)
    if not failure.service:  # cancelled: no service failed
        return _summary(request, names, results, summary)
    failed = ServiceResult(
        failure.service,
        ServiceOutcome.FAILED,
        error.stack if isinstance(error, StackFailed) else "",
        str(error),
        failed_event=event,
        created=isinstance(error, StackFailed) and error.created,
    )
    if failure.service in results:  # its own cleanup failed: say both
        failed = ServiceResult(
            failure.service,
            ServiceOutcome.FAILED,
            failed.stack,
            f"{error}; {results[failure.service].message}",
            failed_event=event,
        )
    results[failure.service] = failed
    return _summary(request, names, results, summary)


def _summary(
    request: DeployRequest, names: list[str], results: dict[str, ServiceResult], summary: str
) -> ApplyResult:
    ordered = []
    for name in names:
        ordered.append(results.get(name) or ServiceResult(name, ServiceOutcome.NOT_STARTED))
    rolled = [r.service for r in ordered if r.outcome == ServiceOutcome.ROLLED_BACK]
    if rolled:
        summary += "; rolled back: " + ", ".join(f"`{n}`" for n in rolled)
    stuck = [r.service for r in ordered if r.outcome == ServiceOutcome.ROLLBACK_FAILED]
    if stuck:
        summary += "; COULD NOT roll back: " + ", ".join(f"`{n}`" for n in stuck)
    return ApplyResult(env=request.env, ok=False, services=tuple(ordered), error=summary)


def _result(item: Deployed) -> ServiceResult:
    return ServiceResult(
        item.service,
        item.outcome,
        item.stack,
        item.message,
        dict(item.outputs),
        item.changes,
        created=item.created,
    )
