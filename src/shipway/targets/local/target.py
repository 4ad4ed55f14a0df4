"""The local target: unpack built artifacts into a release and switch it in atomically."""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from shipway.archive import sha256_of, unpack_zip
from shipway.errors import DeployFailed, ShipwayError, Where
from shipway.model import (
    Artifact,
    DeployAction,
    DeployPlan,
    ServiceChange,
    ServiceDefinition,
)
from shipway.targets.local.authorizer_config import local_notes
from shipway.targets.local.deployed_function import DeployedFunction
from shipway.targets.local.emulated_stacks import EmulatedStack
from shipway.targets.local.emulator import EmulatorAccess
from shipway.targets.local.eventbus import parse_bus_rules
from shipway.targets.local.layers import LAYERS_DIR, LayerCatalog, function_layers
from shipway.targets.local.release_stacks import (
    carry_template,
    deploy_release_stacks,
    write_template,
)
from shipway.targets.local.releases import (
    MANIFEST_FILE,
    DeployedService,
    ReleaseManifest,
    ReleaseStore,
    check_name,
)
from shipway.targets.local.runtimes import cannot_run, family
from shipway.targets.local.schedules import parse_schedules
from shipway.targets.local.wsevents import check_websockets


class LocalTarget:
    def __init__(self, state_dir: Path, secrets: Collection[str] = ()) -> None:
        """`secrets`: the environment's secret values; a function variable holding one is
        kept out of release.json and masked in the runtime's logs."""
        self.state_dir = Path(state_dir)
        self.secrets = frozenset(secrets)
        self.emulator = EmulatorAccess(self.state_dir)  # where the release's stacks go

    def store(self, env: str) -> ReleaseStore:
        return ReleaseStore(self.state_dir, env)

    def plan(
        self,
        env: str,
        commit: str,
        services: Sequence[tuple[ServiceDefinition, Artifact]],
        depends_on: Mapping[str, Sequence[str]] | None = None,
        force: bool = False,
    ) -> DeployPlan:
        """Which services a release must deploy: those whose code or configuration differs
        from the live release, and those whose dependencies are deployed. Changes nothing."""
        current = self.current_manifest(env)
        depends_on = depends_on or {}
        changes: list[ServiceChange] = []
        deployed: set[str] = set()
        catalog = LayerCatalog([d for d, _ in services])
        for definition, artifact in services:
            name = definition.service
            live = current.services.get(name) if current else None
            refs, warnings = function_layers(definition, catalog)
            wanted = DeployedService.from_definition(
                definition,
                name,
                artifact.sha256,
                secrets=self.secrets,
                function_layers=refs,
                layers={a.name: {"sha256": a.sha256, "dir": ""} for a in artifact.layers},
            )
            moved = sorted(d for d in depends_on.get(name, ()) if d in deployed)
            if force:
                reason = "forced"
            elif current is None:
                reason = "first release"
            elif live is None:
                reason = "new service"
            elif live.artifact_sha256 != artifact.sha256:
                reason = "code changed"
            elif live.layer_shas() != wanted.layer_shas():
                reason = "layer code changed"
            elif live.resources_sha256 != wanted.resources_sha256:
                reason = "resources changed"  # its stack on the local AWS emulator
            elif not live.same_deployment(wanted):
                reason = "configuration changed"
            elif moved:
                reason = f"dependency {', '.join(f'`{d}`' for d in moved)} deployed"
            else:
                changes.append(
                    ServiceChange(
                        name, DeployAction.UNCHANGED, f"unchanged since release {current.number}"
                    )
                )
                continue
            deployed.add(name)
            if warnings:
                reason += "; warning: " + "; ".join(warnings)
            changes.append(ServiceChange(name, DeployAction.DEPLOY, reason))
        return DeployPlan(env=env, commit=commit, changes=tuple(changes))

    def apply(
        self,
        plan: DeployPlan,
        number: int,
        services: Sequence[tuple[ServiceDefinition, Artifact]],
        stacks: Mapping[str, EmulatedStack] | None = None,
    ) -> Path:
        """Release `number` with every service of `plan`, or nothing: returns its folder.

        Deployed services are unpacked, unless the live release holds the same artifact
        (then its folder is shared); unchanged ones keep the folder of the release that
        deployed them (releases are immutable), so their warm workers carry on. `stacks`:
        the deployed services' templates, kept in the release and deployed on the local
        AWS emulator before the switch (release_stacks.py). On any failure the staging
        folder is removed and `current` is left as it was.
        """
        stacks = stacks or {}
        env = plan.env
        store = self.store(env)
        current = self.current_manifest(env)
        live_dir = store.current()
        staging = store.prepare(number)
        catalog = LayerCatalog([d for d, _ in services])
        try:
            deployed: dict[str, DeployedService] = {}
            changes = {c.service: c for c in plan.changes}  # plan.change() scans: quadratic
            for definition, artifact in services:
                name = check_name("service", definition.service)
                if name in deployed:
                    raise ShipwayError(f"service `{name}` is listed twice in release {number}")
                if artifact.service != name:
                    raise ShipwayError(
                        f"artifact of `{artifact.service}` given for service `{name}`"
                    )
                change = changes[name]
                if change.action == DeployAction.UNCHANGED:
                    if live_dir:
                        carry_template(live_dir[1], staging, name)
                elif name in stacks:
                    write_template(staging, stacks[name])
                if change.action == DeployAction.UNCHANGED and current and live_dir:
                    live = current.services[name]
                    folder = (live_dir[1] / live.dir).resolve()
                    relative = os.path.relpath(folder, store.path(number))
                    layers = _moved_layers(live.layers, live_dir[1], store.path(number))
                    deployed[name] = replace(live, dir=relative, layers=layers)
                    continue
                same = current.services.get(name) if current and live_dir else None
                refs, _ = function_layers(definition, catalog)
                fresh = DeployedService.from_definition(
                    definition,
                    name,
                    artifact.sha256,
                    plan.commit,
                    self.secrets,
                    function_layers=refs,
                    layers=self._layers(artifact, same, live_dir, staging, store.path(number)),
                )
                if same is not None and live_dir and same.artifact_sha256 == artifact.sha256:
                    # the same bytes are unpacked already (release folders are immutable): a
                    # redeploy of them (forced, or configuration alone changed) shares that
                    # folder instead of writing every file again
                    folder = (live_dir[1] / same.dir).resolve()
                    check_runtimes(definition)
                    check_handlers(definition, folder)
                    relative = os.path.relpath(folder, store.path(number))
                    deployed[name] = replace(fresh, dir=relative)
                    continue
                check_runtimes(definition)
                verify_sha256(artifact)
                unpack_zip(artifact.path, staging / name)
                check_handlers(definition, staging / name)
                deployed[name] = fresh
            manifest = ReleaseManifest(
                env=env,
                number=int(number),
                commit=plan.commit,
                created_at=time.time(),
                services=deployed,
            )
            manifest.write(staging)
            # the stacks hold what the functions use: a broken one stops the release here
            deploy_release_stacks(self.emulator, env, staging, list(deployed), plan.deployed)
            final = store.commit(staging, number)
        except BaseException:
            store.discard(staging)
            raise
        for definition, _ in services:
            if changes[definition.service].action != DeployAction.UNCHANGED:
                log_authorizer_notes(store, definition)
        return final

    def _layers(
        self,
        artifact: Artifact,
        live: DeployedService | None,
        live_dir: tuple[int, Path] | None,
        staging: Path,
        final: Path,
    ) -> dict[str, dict[str, str]]:
        """The service's layers in the new release: a zip the live release holds already
        keeps its folder (releases are immutable); others are unpacked into
        `.layers/<service>/<layer>/`."""
        out: dict[str, dict[str, str]] = {}
        for layer in artifact.layers:
            kept = live.layers.get(layer.name) if live is not None and live_dir else None
            if kept is not None and live_dir and kept.get("sha256") == layer.sha256:
                folder = (live_dir[1] / kept["dir"]).resolve()
                out[layer.name] = {"sha256": layer.sha256, "dir": os.path.relpath(folder, final)}
                continue
            check_name("layer", layer.name)
            verify_sha256(Artifact(artifact.service, layer.path, layer.sha256, layer.size))
            relative = f"{LAYERS_DIR}/{artifact.service}/{layer.name}"
            unpack_zip(layer.path, staging / relative)
            out[layer.name] = {"sha256": layer.sha256, "dir": relative}
        return out

    def release(
        self,
        env: str,
        number: int,
        commit: str,
        services: Sequence[tuple[ServiceDefinition, Artifact]],
        force: bool = False,
    ) -> Path:
        """Plan and apply in one step (every service deployed when `force`)."""
        plan = self.plan(env, commit, services, force=force)
        return self.apply(plan, number, services)

    def rollback_to(self, env: str, number: int) -> Path:
        """Point `current` of `env` back at an existing release."""
        return self.store(env).switch(number)

    def current_manifest(self, env: str) -> ReleaseManifest | None:
        current = self.store(env).current()
        if current is None:
            return None
        return ReleaseManifest.load(current[1])


def _moved_layers(
    layers: dict[str, dict[str, str]], old_release: Path, new_release: Path
) -> dict[str, dict[str, str]]:
    """An unchanged service's layer folders, named relative to the new release."""
    return {
        k: {**v, "dir": os.path.relpath((old_release / v["dir"]).resolve(), new_release)}
        for k, v in layers.items()
    }


def check_schedules(definition: ServiceDefinition, source: str) -> None:
    """The local runtime can fire every `schedule` event of the service, and serve its
    `websocket` events (ShipwayError if not)."""
    check_websockets(definition, source)
    for fn in definition.functions:
        deployed = DeployedFunction.from_function(fn)
        try:
            parse_schedules(fn.name, deployed.schedules)
            parse_bus_rules(fn.name, deployed.event_rules)  # patterns the local bus can match
        except ShipwayError as exc:
            raise ShipwayError(
                exc.message, Where(source, key=f"functions.{fn.name}"), exc.hint
            ) from None


_HANDLER_FILES = {"python": (".py", "/__init__.py"), "nodejs": (".js", ".mjs", ".cjs")}


def check_runtimes(definition: ServiceDefinition) -> None:
    """A Node.js function with no `node` on this machine fails the deploy, not its requests
    (other runtimes with no local worker are warnings: see `local_runtime_warnings`)."""
    for fn in definition.functions:
        problem = cannot_run(fn.runtime)
        if problem is not None and family(fn.runtime) is not None:
            raise DeployFailed(f"service `{definition.service}`, function `{fn.name}`: {problem}")


def handler_module(runtime: str, handler: str) -> str:
    """The module part of a handler: Node.js splits the last path segment at its first
    `.` (`src/app.routes.get` is `src/app`, export `routes.get`), Python at its last."""
    if family(runtime) == "nodejs":
        folder, _, last = handler.rpartition("/")
        return (folder + "/" if folder else "") + last.split(".", 1)[0]
    return handler.rsplit(".", 1)[0]


def check_handlers(definition: ServiceDefinition, package: Path) -> None:
    """Every function's handler module is in its package, or the deploy fails before
    anything is switched (a release whose handlers cannot load must never go live)."""
    missing = []
    for fn in definition.functions:
        kind = family(fn.runtime)
        if kind is None or "." not in fn.handler:
            continue
        module = handler_module(fn.runtime, fn.handler)
        candidates = [module + suffix for suffix in _HANDLER_FILES[kind]]
        if not any((package / c).is_file() for c in candidates):
            missing.append(f"`{fn.name}` ({fn.handler}: no {' or '.join(candidates)})")
    if missing:
        error = DeployFailed(
            f"service `{definition.service}`: the package has no handler for "
            + ", ".join(missing)
            + "; check the handler paths against the build's artifacts"
        )
        error.service = definition.service
        raise error


def log_authorizer_notes(store: ReleaseStore, definition: ServiceDefinition) -> None:
    """What the local runtime does differently with the service's authorizers, as warnings
    in the service's log (validate prints the same notes)."""
    notes = local_notes(definition)
    if not notes:
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        store.logs_dir.mkdir(parents=True, exist_ok=True)
        with open(store.logs_dir / f"{definition.service}.log", "a", encoding="utf-8") as f:
            f.writelines(f"{stamp} [WARNING] {note}\n" for note in notes)
    except OSError:
        pass  # a log that cannot be written never fails a deploy


def verify_sha256(artifact: Artifact) -> None:
    try:
        digest = sha256_of(artifact.path)
    except OSError as e:
        raise ShipwayError(f"artifact of `{artifact.service}` unreadable: {e}") from None
    if digest != artifact.sha256:
        raise ShipwayError(
            f"artifact of `{artifact.service}` ({artifact.path}) does not match its sha256"
        )


__all__ = [
    "MANIFEST_FILE",
    "LocalTarget",
    "check_handlers",
    "check_runtimes",
    "check_schedules",
    "verify_sha256",
]
