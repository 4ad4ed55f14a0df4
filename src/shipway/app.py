"""The use cases (validate, run, status, invoke, init, logs …) and the one place where the
parts are wired together. The CLI and the server are thin layers over `App`."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from shipway.auth import Action, AuditEntry, TokenRecord
from shipway.config.compose_services import compose_entries
from shipway.config.dotenv import EnvValues
from shipway.config.printing import render_config
from shipway.config.project import load_environments, load_project
from shipway.config.serverless import CONFIG_NAMES, find_config, read_service_name
from shipway.config.services import PROJECT_FILE
from shipway.config.yamlsrc import with_line
from shipway.errors import ConfigErrors, NotFound, ShipwayError, Where
from shipway.masking import Masker, masks_secrets, seen_secrets
from shipway.model import (
    AwsTarget,
    Environment,
    Project,
    Run,
    RunState,
    Service,
    ServiceDefinition,
)
from shipway.pipeline.engine import Engine, Outcome
from shipway.pipeline.events import Listener, Warn, ignore
from shipway.pipeline.paths import STATE_FOLDER, StatePaths, running_server
from shipway.pipeline.plan import environment, load_definition, own_stacks, service_env
from shipway.pipeline.recovery import recover
from shipway.source.git import branch_head, repository_root, resolve_commit
from shipway.store.sqlite import Store
from shipway.usecases import audit as audit_log
from shipway.usecases import runs as runs_usecase
from shipway.usecases import tokens as api_tokens
from shipway.usecases.audit import Actor, local_actor
from shipway.usecases.logs import follow, run_logs
from shipway.usecases.overview import overview
from shipway.usecases.plan import plan_environment
from shipway.usecases.pushes import Triggers
from shipway.usecases.releases import prune_releases, releases_keep
from shipway.usecases.rollback import RolledBack
from shipway.usecases.rollback import rollback as rollback_environment
from shipway.usecases.validate import ServiceSummary, Validation
from shipway.usecases.validate import validate as validate_repo

DEFAULT_PORT = 8787


class App:
    def __init__(self, repo: Path | None = None):
        self.repo = repository_root((repo or Path.cwd()).resolve())
        self.paths = StatePaths.for_repo(self.repo)
        self._store: Store | None = None
        # called when a run was queued for the server: the server wakes its worker with it
        self.on_queued: Callable[[], None] = lambda: None
        private_state(self.paths)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.paths.database)
            recover(self._store, self.paths)  # runs of killed processes: stopped, cleaned
            self._store.expire_approvals()  # so that no command shows one waiting past it
        return self._store

    def project(self) -> Project:
        return load_project(self.repo)

    # ------------------------------------------------------------------ validate

    @masks_secrets
    def validate(self) -> list[ServiceSummary]:
        """Check shipway.yml and, for every environment, every service's serverless.yml,
        buildspec.yml and .env layers; raise ValidationFailed listing every problem."""
        return self.validation().services

    @masks_secrets
    def validation(self) -> Validation:
        """`validate`, with every warning (file, line, key) besides the summaries (a
        warning can quote a resolved value: masked, as errors are)."""
        found = validate_repo(self.repo, self.paths.home)
        mask = Masker(seen_secrets())
        return replace(
            found,
            services=[
                replace(s, warnings=tuple(mask(w) for w in s.warnings)) for s in found.services
            ],
            warnings=[mask.error(w) for w in found.warnings],
        )

    def _definition(
        self, service_name: str, env_name: str
    ) -> tuple[Service, ServiceDefinition, EnvValues]:
        project = self.project()
        env = environment(project, env_name)
        try:
            service = project.service(service_name)
        except KeyError:
            known = ", ".join(s.name for s in project.services)
            raise NotFound(f"no service `{service_name}` (known: {known})") from None
        values = service_env(self.repo, env, service)
        # a local environment's `${cf:}` of a sibling: the emulator's reference, as in a run
        own = None if isinstance(env.target, AwsTarget) else own_stacks(project, env)
        definition = load_definition(
            self.repo, env, service, values, own_stacks=own, state_dir=self.paths.home
        )
        return service, definition, values

    @masks_secrets
    def synth(self, service_name: str, env_name: str, fmt: str = "json") -> str:
        """The CloudFormation template `serverless package` would make for the service."""
        from shipway.synth.template import support_problems, synthesize

        service, definition, values = self._definition(service_name, env_name)
        refused = support_problems(definition, service.config_path)  # all, not the first
        if refused:
            raise ConfigErrors([with_line(e, self.repo) for e in refused])
        template = synthesize(definition, source=service.config_path)
        # masked as data, before encoding: escaping or folding cannot hide a secret then
        template = Masker(values.secret_values | seen_secrets()).data(template)
        if fmt == "json":
            return json.dumps(template, indent=2) + "\n"
        return yaml.safe_dump(template, sort_keys=False, width=1000)

    @masks_secrets
    def print_service(self, service_name: str, env_name: str, fmt: str = "yaml") -> str:
        """The service's serverless.yml with every variable resolved (as `serverless print`)."""
        _, definition, values = self._definition(service_name, env_name)
        document = Masker(values.secret_values | seen_secrets()).data(definition.resolved)
        return render_config(document, "json" if fmt == "json" else "yaml")

    # ------------------------------------------------------------------ run

    def governing(self, commit: str = "HEAD") -> dict[str, Environment]:
        """The environments as the control branch's shipway.yml defines them (they decide
        who may approve, which branch feeds which environment: config/governing.py)."""
        return self.engine().governing(commit)

    def resolve_run_commit(self, env_name: str, commit: str | None) -> str:
        # the environments alone: the run reads and checks its commit's services itself
        env = environment(self.governing(), env_name)
        if commit:
            return resolve_commit(self.repo, commit)
        if any(ch in env.branch for ch in "*?["):
            raise ShipwayError(
                f"environment `{env_name}` follows the branch pattern `{env.branch}`",
                hint="pass --commit SHA to choose which commit to run",
            )
        return branch_head(self.repo, env.branch)

    def engine(self, listener: Listener = ignore, warn: Warn | None = None) -> Engine:
        """The engine of this process; a run waiting for approval shows its plan."""

        def describe(run: Run) -> dict[str, Any]:
            return plan_environment(self.repo, self.paths, self.store, run.env, run.commit)

        return Engine(self.repo, self.paths, self.store, listener, describe=describe, warn=warn)

    @masks_secrets
    def run(
        self,
        env_name: str,
        commit: str | None = None,
        listener: Listener = ignore,
        force: bool = False,
        wait: bool = False,
        actor: Actor | None = None,
        warn: Warn | None = None,
    ) -> Outcome:
        """Queue a run and drive it in this process until it ends or waits for a person
        (with `wait`, on until it ends: another process decides the approval). `warn`
        hears the warnings `validate` gives about the commit."""
        sha = self.resolve_run_commit(env_name, commit)
        engine = self.engine(listener, warn)
        who = (actor or local_actor()).who
        outcome = engine.run(env_name, sha, force=force, actor=who)
        if wait and not outcome.run.state.finished:
            outcome = Outcome(self.wait_for(outcome.run.id, engine), outcome.builds)
        self._after_release(outcome.run, warn)
        return outcome

    @masks_secrets
    def build(
        self,
        env_name: str,
        commit: str | None,
        out: Path,
        listener: Listener = ignore,
        warn: Warn | None = None,
    ) -> tuple[Outcome, Path | None]:
        """`shipway build ENV --out DIR` (usecases/handoff.py)."""
        from shipway.usecases.handoff import build_into

        sha = self.resolve_run_commit(env_name, commit)
        return build_into(
            self.engine(listener, warn), self.store, env_name, sha, out, local_actor().who
        )

    @masks_secrets
    def deploy_from(
        self, env_name: str, folder: Path, listener: Listener = ignore, warn: Warn | None = None
    ) -> Outcome:
        """`shipway deploy ENV --from DIR` (usecases/handoff.py)."""
        from shipway.usecases.handoff import deploy_from

        engine = self.engine(listener, warn)
        who = local_actor().who
        outcome = deploy_from(engine, self.store, self.paths, self.repo, env_name, folder, who)
        self._after_release(outcome.run, warn)
        return outcome

    def after_run(self, run_id: str) -> None:
        """A run driven by the server ended or waits (the worker's `on_end`)."""
        self._after_release(self.store.run(run_id), _to_stderr)

    def _after_release(self, run: Run, warn: Warn | None = None) -> None:
        """A run that made a release prunes the old ones beyond `releases.keep`, and seeds a
        local environment's emulator (every way a release is made: `shipway run`, the
        server's runs, rollbacks). `warn` hears a seed that failed."""
        if run.state == RunState.SUCCEEDED and run.release is not None:
            prune_releases(self.paths, self.store, run.env, releases_keep(self.repo))
            env = self.governing(run.commit).get(run.env)
            if env is not None and env.seed:
                from shipway.usecases.seed import seed_environment  # the local runtime's

                for problem in seed_environment(self.paths.home, env, "deploy"):
                    (warn or _to_stderr)(ShipwayError(problem))

    def wait_for(self, run_id: str, engine: Engine | None = None, poll_s: float = 0.5) -> Run:
        """Wait until `run_id` ends, driving it whenever it is queued for no live process
        (approved by a decision made elsewhere, with no server to take it)."""
        engine = engine or self.engine()
        while True:
            run = self.store.run(run_id)
            if run.state.finished:
                return run
            expired = self.store.expire_approvals()
            if run_id in expired:
                continue
            if run.state == RunState.QUEUED and self.server() is None:
                run = engine.drive(run_id)
                if run.state.finished:
                    return run
            time.sleep(poll_s)

    # ------------------------------------------------------------------ decisions

    def decide(
        self,
        run_id: str,
        approved: bool,
        comment: str | None = None,
        listener: Listener = ignore,
        actor: Actor | None = None,
        token: TokenRecord | None = None,
    ) -> Run:
        """Approve or reject a waiting run (as the local user, or a token's through the API).
        An approved run is driven on in this process until it ends or waits again when no
        server serves (nobody else would); else the server's worker is woken for it."""
        self.store.expire_approvals()
        envs = self.governing()
        engine = self.engine(listener)
        owner = engine.owner if self.server() is None else None
        run = runs_usecase.decide(
            self.store, envs, run_id, approved, actor or local_actor(), comment, token, owner
        )
        if approved and owner is not None:
            run = engine.drive_until_settled(run_id)
        elif approved:
            self.on_queued()
        return run

    def cancel(
        self, run_id: str, actor: Actor | None = None, token: TokenRecord | None = None
    ) -> Run:
        envs = self.governing()
        return runs_usecase.cancel(self.store, envs, run_id, actor or local_actor(), token)

    def retry(
        self,
        run_id: str,
        listener: Listener = ignore,
        actor: Actor | None = None,
        token: TokenRecord | None = None,
    ) -> Run:
        """Queue a failed or interrupted run again from its failed stage and drive it here
        (or leave it to the server when one serves)."""
        engine = self.engine(listener)
        owner = engine.owner if self.server() is None else None
        envs = self.governing()
        run = runs_usecase.retry(self.store, envs, run_id, actor or local_actor(), token, owner)
        if owner is not None:
            run = engine.drive_until_settled(run_id)
        else:
            self.on_queued()
        return run

    # ------------------------------------------------------------------ the server's runs

    def submit(
        self,
        env_name: str,
        commit: str | None = None,
        trigger: str = "api",
        actor: Actor | None = None,
        token: TokenRecord | None = None,
        force: bool = False,
    ) -> Run:
        """Queue a run for the server's worker to drive (it is woken by `on_queued`). With a
        token, it must allow starting runs in the environment (audited when refused)."""
        actor = actor or local_actor()
        env = environment(self.governing(), env_name)
        if token is not None:
            audit_log.require(self.store, token, Action.RUN_START, env, actor.origin, env.name)
        sha = self.resolve_run_commit(env_name, commit)
        entry = actor.entry(Action.RUN_START.value, env=env.name, detail=f"commit {sha[:12]}")
        run = self.engine().submit(
            env_name, sha, trigger, actor=actor.who, force=force, owner=None, entry=entry
        )
        self.on_queued()
        return run

    @property
    def triggers(self) -> Triggers:
        """What starts runs without a person: pushes (the hook, GitHub), polled remotes and
        S3 objects, and the catch-up of pushes made while no server ran."""
        return Triggers(self.repo, self.store, self.governing, self.engine, self._queued)

    def _queued(self) -> None:
        self.on_queued()  # read when called: the server sets it after App is made

    def rollback(
        self,
        env_name: str,
        to: int | None = None,
        actor: Actor | None = None,
        token: TokenRecord | None = None,
    ) -> RolledBack:
        """Deploy release `to` (default: the one before the current) again, as a new release;
        audited. With a token, it must allow rolling back in the environment."""
        actor = actor or local_actor()
        envs = self.governing()
        env = environment(envs, env_name)
        if token is not None:
            audit_log.require(self.store, token, Action.ROLLBACK, env, actor.origin, env.name)
        done = rollback_environment(self.paths, self.store, env, to, actor)
        self._after_release(done.run)
        return done

    def run_detail(self, run_id: str) -> dict[str, Any]:
        self.store.expire_approvals()
        return runs_usecase.detail(self.store, run_id)

    def runs(self, env: str | None = None, limit: int = 50) -> list[Run]:
        if env:
            environment(load_environments(self.repo), env)
        return self.store.runs(env, limit)

    def logs(self, run_id: str, service: str | None = None) -> str:
        return run_logs(self.store, self.paths, run_id, service)

    def follow_logs(
        self, run_id: str, service: str | None = None, poll_s: float = 0.2
    ) -> Iterator[str]:
        """Lines of a run's logs as they are written (see usecases.logs.follow)."""
        return follow(self.store, self.paths, run_id, service, poll_s)

    # ------------------------------------------------------------------ status

    def server(self) -> dict[str, Any] | None:
        """The running server's {pid, port, url}, if one is up for this state directory."""
        return running_server(self.paths.home)

    def overview(self, envs: Mapping[str, Environment]) -> dict[str, Any]:
        """`envs` (the governing ones a caller may see) as the API's status shows them."""
        server = self.server()
        return overview(self.store, envs, str(server["url"]) if server else None)

    def _websocket_services(self, env_name: str) -> set[str]:
        """The services of the current local release of `env_name` with `websocket` events."""
        from shipway.targets.local.target import LocalTarget

        try:
            manifest = LocalTarget(self.paths.home).current_manifest(env_name)
        except ShipwayError:
            return set()
        if manifest is None:
            return set()
        return {
            n
            for n, svc in manifest.services.items()
            if any(f.websockets for f in svc.functions.values())
        }

    def status(self, env_name: str | None = None) -> dict[str, Any]:
        project = self.project()
        names = [environment(project, env_name).name] if env_name else list(project.environments)
        server = self.server()
        port = int(server["port"]) if server else DEFAULT_PORT
        out: dict[str, Any] = {}
        sockets: dict[str, set[str]] = {}  # env -> its services with a WebSocket API
        for name in names:
            env = project.environments[name]
            release = self.store.latest_release(name)
            last_runs = self.store.runs(name, limit=1)
            last = last_runs[0] if last_runs else None
            released = {s.name: s for s in release.services} if release else {}
            services: dict[str, Any] = {}
            for s in project.services:
                deployed = released.get(s.name)
                entry: dict[str, Any] = {
                    "state": "deployed" if deployed else "not deployed",
                    "commit": deployed.commit if deployed else None,
                }
                if deployed and not isinstance(env.target, AwsTarget):
                    entry["url"] = f"http://127.0.0.1:{port}/{name}/{s.name}"
                    if s.name in sockets.setdefault(name, self._websocket_services(name)):
                        entry["websocket"] = f"ws://127.0.0.1:{port}/{name}/{s.name}"
                services[s.name] = entry
            out[name] = {
                "branch": env.branch,
                "target": env.target.kind,
                "release": release.number if release else None,
                "commit": release.commit if release else None,
                "last_run": last.as_dict() if last else None,
                "serving": bool(server),
                "services": services,
            }
        return out

    # ------------------------------------------------------------------ local runtime

    def invoke(self, function: str, env_name: str, payload: Any) -> tuple[bool, Any]:
        """Call a function of ENV's current local release once: (ok, result or error doc)."""
        from shipway.targets.local.gateway import invoke_function
        from shipway.targets.local.target import LocalTarget

        environment(self.project(), env_name)
        manifest = LocalTarget(self.paths.home).current_manifest(env_name)
        if manifest is None:
            raise NotFound(
                f"environment `{env_name}` has no release yet", hint=f"`shipway run {env_name}`"
            )
        candidates = [
            (sname, fname)
            for sname, svc in manifest.services.items()
            for fname in svc.functions
            if function in (fname, f"{sname}.{fname}", f"{sname}/{fname}")
        ]
        if not candidates:
            every = sorted(
                f"{s}.{f}" for s, svc in manifest.services.items() for f in svc.functions
            )
            raise NotFound(
                f"no function `{function}` in `{env_name}` (deployed: {', '.join(every)})"
            )
        if len(candidates) > 1:
            raise ShipwayError(
                f"`{function}` names functions in several services: "
                + ", ".join(f"{s}.{f}" for s, f in candidates),
                hint="write SERVICE.FUNCTION",
            )
        service, fn = candidates[0]
        result = invoke_function(self.paths.home, env_name, service, fn, payload)
        return result.ok, result.payload

    # ------------------------------------------------------------------ tokens and audit

    def create_token(self, user: str, role: str, envs: tuple[str, ...]) -> api_tokens.Created:
        """A token made with local access to the state directory (no server needed)."""
        return api_tokens.create(self.store, self.repo, user, role, envs, local_actor())

    def tokens(self) -> list[TokenRecord]:
        return api_tokens.listing(self.store)

    def revoke_token(self, token_id: str) -> tuple[TokenRecord, bool]:
        return api_tokens.revoke(self.store, token_id, local_actor())

    def audit(self, limit: int = 50, env: str | None = None) -> list[AuditEntry]:
        return audit_log.entries(self.store, limit, env)

    # ------------------------------------------------------------------ init

    def init(self) -> tuple[Path, list[str]]:
        """Write a shipway.yml for the services found (at every depth), with dev/qa/prod;
        git-ignore the state. Returns the file and the service folders found."""
        path = self.repo / PROJECT_FILE
        if path.exists():
            raise ShipwayError(f"{PROJECT_FILE} already exists", hint="edit it, or remove it first")
        services = find_service_folders(self.repo)
        from_compose = compose_entries(self.repo)  # serverless-compose.yml names them
        if from_compose is not None:
            services = []  # Compose's list is the one written
        for folder in services:
            config = find_config(self.repo / folder)
            assert config is not None
            read_service_name(config, f"{folder}/{config.name}")  # fails early on a bad file
        root_config = find_config(self.repo) if from_compose is None else None
        if root_config is not None:  # a one-service repository
            if services:
                raise ShipwayError(
                    f"the repository's root has a {root_config.name}, and so do "
                    + ", ".join(f"`{s}`" for s in services)
                    + ": a service's folder would hold the others",
                    Where(root_config.name),
                    hint="move the root service into a folder of its own",
                )
            read_service_name(root_config, root_config.name)
            services = ["."]
        parents: dict[str, list[str]] = {}
        for s in services:
            parents.setdefault(Path(s).parent.as_posix(), []).append(s)
        globs: list[str] = []
        for parent, found in sorted(parents.items()):
            # several services in one folder: a glob (a new one there is found); else a path
            many = len(found) > 1 and parent != "."
            globs += [f"{parent}/*"] if many else found
        lines = [f"project: {project_name(self.repo.name)}", "services:"]
        lines += [f"  - {g}" for g in (globs or ["services/*"])]
        if from_compose is not None:
            lines = [lines[0], *from_compose]
            services = [
                e.split(":", 1)[1].strip().strip("'\"") for e in from_compose if "- path:" in e
            ]
        lines += [
            "environments:",
            "  dev:",
            "    branch: dev",
            "    target: local",
            "  qa:",
            "    branch: qa",
            "    target: local",
            "  prod:",
            "    branch: main",
            "    target: local",
            "",
        ]
        path.write_text("\n".join(lines), encoding="utf-8")
        path.chmod(0o644)  # the user's file, not Shipway's private state
        ignore_file = self.repo / ".gitignore"
        existing = ignore_file.read_text(encoding="utf-8") if ignore_file.exists() else ""
        if ".shipway/" not in existing.splitlines():
            prefix = "" if not existing or existing.endswith("\n") else "\n"
            ignore_file.write_text(existing + prefix + ".shipway/\n", encoding="utf-8")
            if not existing:
                ignore_file.chmod(0o644)
        return path, services


def _to_stderr(problem: ShipwayError) -> None:
    print(f"warning: {problem}", file=sys.stderr, flush=True)


def private_state(paths: StatePaths) -> None:
    """State written by an older version may be readable by others: the state folder becomes
    0700 (which hides all below it) and the database 0600. Only a folder that is Shipway's
    (the default, or one holding its database) is changed."""
    home = paths.home
    try:
        if home.is_dir() and (home.name == STATE_FOLDER or paths.database.exists()):
            home.chmod(0o700)
        for suffix in ("", "-wal", "-shm"):
            db = paths.database.with_name(paths.database.name + suffix)
            if db.is_file():
                db.chmod(0o600)
    except OSError:
        pass  # not ours to change (another owner): the umask still covers new files


#: folders no service is looked for in: dependencies, the Framework's output, Shipway's state
_NOT_SEARCHED = frozenset({"node_modules", ".serverless", STATE_FOLDER, ".git"})


def find_service_folders(root: Path) -> list[str]:
    """Every folder below `root` (not `root` itself) with a serverless.yml, at any depth;
    dependencies, build output, hidden folders and virtual environments are skipped."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in _NOT_SEARCHED
            and not d.startswith(".")
            and not (here / d / "pyvenv.cfg").exists()
        )
        if here != root and any(name in files for name in CONFIG_NAMES):
            found.append(here.relative_to(root).as_posix())
    return sorted(found)


def project_name(folder: str) -> str:
    """A valid `project:` value from a folder name: [a-z0-9-], at most 40 characters."""
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in folder.lower()).split()
    return "-".join(words)[:40].strip("-") or "project"


def run_exit_code(state: RunState) -> int:
    """0 when the environment ends on this run's work or newer (a superseded run was
    overtaken by a run of a newer commit of the same branch, which holds its changes), or
    the run waits (for a person, for its turn); 1 when it failed, was rejected, expired,
    was cancelled or interrupted."""
    waiting = (RunState.AWAITING_APPROVAL, RunState.QUEUED, RunState.RUNNING)
    return 0 if state in (RunState.SUCCEEDED, RunState.SUPERSEDED, *waiting) else 1
