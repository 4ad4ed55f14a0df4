"""One verdict per service and environment: what `validate` says is what `run` does.

`service_verdict` loads the service's serverless.yml for the environment (variables
resolved), lists every setting Shipway does not implement (synth/support.py: all of
them, not the first, and also when a variable did not resolve: the settings that did
resolve are still checked), synthesizes the template whatever the target (a setting the
local target would otherwise drop unseen is refused there as on AWS), and, for local
targets, checks that the local runtime can fire its schedules and enforce its
authorizers. `validate` and the run's plan (pipeline/plan.py) both call it, so a service
gets the same messages from each and a refused service stops a run before any build.

Warnings: properties the Framework's schema does not know (its `configValidationMode:
warn`; `error` makes them errors, `off` silences them), plugins that only package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shipway.build.node import check_node_build
from shipway.config.dotenv import EnvValues
from shipway.config.framework_schema import validation_mode
from shipway.config.serverless import ServiceErrors
from shipway.config.yamlsrc import with_line
from shipway.errors import ConfigErrors, ShipwayError, Where
from shipway.model import AwsTarget, Environment, Service, ServiceDefinition
from shipway.pipeline.plan import CfReads, SupportCheck, load_definition
from shipway.synth.context import Unsupported
from shipway.synth.template import plugin_warnings, support_problems
from shipway.targets.local.authorizer_config import check_authorizers
from shipway.targets.local.notes import local_notes
from shipway.targets.local.runtimes import local_runtime_warnings
from shipway.targets.local.target import check_schedules

__all__ = ["Verdict", "service_verdict", "unknown_key_warnings"]


@dataclass(frozen=True)
class Verdict:
    """A service in one environment: refused (`errors`) or not, and what to know."""

    definition: ServiceDefinition | None  # None when it did not load
    errors: tuple[ShipwayError, ...]
    warnings: tuple[ShipwayError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_errors(self) -> None:
        if self.errors:
            raise ConfigErrors(self.errors)


def service_verdict(
    root: Path,
    env: Environment,
    service: Service,
    values: EnvValues,
    *,
    own_stacks: Mapping[str, Mapping[str, str] | None] | None = None,
    cf_reads: CfReads | None = None,
    support: SupportCheck | None = None,
    state_dir: Path | None = None,
) -> Verdict:
    """`support`: what lists the refused settings (default `support_problems`; a run
    passes pipeline/verdict_cache.SupportCache)."""
    source = service.config_path
    try:
        definition = load_definition(
            root,
            env,
            service,
            values,
            own_stacks=own_stacks,
            cf_reads=cf_reads,
            state_dir=state_dir,
        )
    except ServiceErrors as exc:
        # what did resolve is still checked: one variable hides nothing else
        partial = ServiceDefinition(
            service.name,
            env.stage,
            "us-east-1",
            "",
            (),
            resolved=exc.partial,
            unknown_keys=exc.unknown,
        )
        refused = [
            e
            for e in support_problems(partial, source, partial=True)
            if isinstance(e, Unsupported) and not _below(e, exc.failed)
        ]
        warnings = unknown_key_warnings(partial, source)
        return Verdict(None, _lined(root, _merged(exc.errors, refused)), _lined(root, warnings))
    except ConfigErrors as exc:
        return Verdict(None, _lined(root, exc.errors))
    except ShipwayError as exc:
        return Verdict(None, _lined(root, [exc]))
    errors = (support or support_problems)(definition, source)
    if not service.buildspec_path:  # the default build: npm / esbuild settings it reads
        try:
            check_node_build(definition, source)
        except ShipwayError as exc:
            errors.append(exc)
    notes: list[str] = []
    if not errors and not isinstance(env.target, AwsTarget):
        # what the local runtime must do itself: fire the schedules, enforce the authorizers
        try:
            check_schedules(definition, source)
        except ShipwayError as exc:
            errors.append(exc)
        try:
            notes = check_authorizers(definition, source)
        except ShipwayError as exc:
            errors.append(exc)
        notes += local_notes(definition)  # logs, tracing, roles: no meaning on 127.0.0.1
        notes += local_runtime_warnings(definition)  # runtimes this machine cannot run
    warnings = [
        *unknown_key_warnings(definition, source),
        *(ShipwayError(w, Where(source, key="plugins")) for w in plugin_warnings(definition)),
        *(ShipwayError(note, Where(source)) for note in notes),
    ]
    return Verdict(definition, _lined(root, errors), _lined(root, warnings))


def unknown_key_warnings(definition: ServiceDefinition, source: str) -> list[ShipwayError]:
    """One warning per property the Framework's schema does not know (left out)."""
    if validation_mode(definition.resolved) == "off":
        return []
    return [
        ShipwayError(
            "unrecognized property: the Serverless Framework's schema does not know it, and it "
            "is ignored, as the Framework ignores it (`configValidationMode: error` refuses "
            "such properties, `off` silences this)",
            Where(source, key=key),
        )
        for key in definition.unknown_keys
    ]


def _below(error: ShipwayError, failed: tuple[str, ...]) -> bool:
    """The error is about a key whose variables did not resolve (already reported)."""
    key = error.where.key if error.where else None
    return bool(key) and any(
        key == bad or str(key).startswith((bad + ".", bad + "[")) for bad in failed
    )


def _merged(first: Sequence[ShipwayError], more: Sequence[ShipwayError]) -> list[ShipwayError]:
    """`first`, then those of `more` about a key none of `first` names."""
    named = {e.where.key for e in first if e.where and e.where.key}
    return [*first, *(e for e in more if not (e.where and e.where.key in named))]


def _lined(root: Path, errors: Sequence[ShipwayError]) -> tuple[ShipwayError, ...]:
    """Each error with the line of the key it names (synthesis reads line-less data)."""
    return tuple(with_line(e, root) for e in errors)
