"""RunPlan: everything a run will do, decided from the exported commit. Pure but for reading
the workspace's files; it changes nothing."""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipway.config.buildspec import parse_buildspec
from shipway.config.compose import sibling_outputs
from shipway.config.compose_params import compose_param, resolve_compose_params
from shipway.config.dotenv import EnvValues, load_env
from shipway.config.project import load_project
from shipway.config.serverless import load_service
from shipway.config.services import PROJECT_FILE, deploy_waves
from shipway.config.variables import Absent, SourceCall, SourceFn
from shipway.errors import ConfigErrors, NotFound, ShipwayError, Where
from shipway.masking import remember, watching
from shipway.model import AwsTarget, BuildSpec, Environment, Project, Service, ServiceDefinition
from shipway.targets.aws import lazy_aws_sources
from shipway.targets.local.emulator import ACCOUNT as EMULATOR_ACCOUNT
from shipway.targets.local.layers import is_layer_output, local_layer_arn
from shipway.targets.local.parameters import LocalParameters
from shipway.targets.local.stack_outputs import output_reference

if TYPE_CHECKING:
    from shipway.targets.aws.client import SsmParameter
    from shipway.targets.aws.sources import ParameterReader

#: what `${cf:<stack>.<output>}` read while planning, by (stack, output): the value, or
#: None when the stack or output did not exist yet (a service of this repository that the
#: run deploys first: see `CfReads`)
CfReads = dict[tuple[str, str], str | None]
#: lists a service's refused settings (synth's support_problems, or a cache of it)
SupportCheck = Callable[[ServiceDefinition, str], list[ShipwayError]]


@dataclass(frozen=True)
class ServicePlan:
    service: Service
    definition: ServiceDefinition
    buildspec: BuildSpec | None
    env_values: EnvValues
    # `${cf:}` reads of the stacks of this repository's services (aws targets only)
    cf_reads: Mapping[tuple[str, str], str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RunPlan:
    project: Project
    environment: Environment
    commit: str
    services: tuple[ServicePlan, ...]  # in deploy order
    waves: tuple[tuple[str, ...], ...]  # service names; each wave deploys after the previous
    # secrets met while resolving (decrypted `${ssm:}` SecureStrings), besides the .env ones
    resolved_secrets: frozenset[str] = frozenset()
    # the verdict's warnings (`validate` prints the same): unknown keys, no local meaning …
    warnings: tuple[ShipwayError, ...] = ()

    def service(self, name: str) -> ServicePlan:
        return self._by_name[name]

    @cached_property
    def _by_name(self) -> dict[str, ServicePlan]:
        # asked once per service by every stage: a scan each time is quadratic in services
        return {s.service.name: s for s in self.services}

    @cached_property
    def secrets(self) -> frozenset[str]:
        out: set[str] = set(self.resolved_secrets)
        for s in self.services:
            out |= s.env_values.secret_values
        return frozenset(out)


def environment(project: Project | Mapping[str, Environment], name: str) -> Environment:
    """`name` of the project's environments (or of `load_environments`' mapping)."""
    environments = project.environments if isinstance(project, Project) else project
    try:
        return environments[name]
    except KeyError:
        known = ", ".join(sorted(environments)) or "none"
        raise NotFound(
            f"no environment `{name}` in shipway.yml (known: {known})",
            hint="`shipway env add NAME --branch B` adds one",
        ) from None


def service_env(root: Path, env: Environment, service: Service) -> EnvValues:
    values = load_env(root, env.name, service.path, env.secrets)
    remember(values.secret_values)  # an error leaving the use case is masked with them
    return values


def load_definition(
    root: Path,
    env: Environment,
    service: Service,
    values: EnvValues,
    *,
    own_stacks: Mapping[str, Mapping[str, str] | None] | None = None,
    cf_reads: CfReads | None = None,
    state_dir: Path | None = None,
) -> ServiceDefinition:
    """The service's serverless.yml resolved for `env`: `${env:}` sees the `.env` layers,
    then the process environment; `${ssm:}`, `${cf:}`, `${s3:}` and `${aws:accountId}` ask
    AWS (only when a file uses them). On a local environment `${ssm:}` reads the local
    emulator's parameter store of `state_dir` (targets/local/parameters.py).

    `own_stacks`: the stacks of this repository's services, each with the outputs it has
    in this run (None: not deployed in this run yet). `${cf:}` of one of them reads those
    outputs, else AWS; a stack or output that does not exist yet is `pending_value(...)`
    (its service deploys first in the run, and the run resolves this service again then:
    see pipeline/deploy.py). Each such read is put in `cf_reads`."""
    options: dict[str, str] = {"stage": env.stage}
    profile = None
    region = "us-east-1"
    if isinstance(env.target, AwsTarget):
        options["region"] = region = env.target.region
        profile = env.target.profile
    local = not isinstance(env.target, AwsTarget)
    sources = lazy_aws_sources(
        region, profile, on_secret=_remember_one, parameters=_local_parameters(local, state_dir)
    )
    if own_stacks is not None:
        if local:  # the stacks are the local AWS emulator's (targets/local/stack_outputs.py)
            sources["cf"] = _emulated_stack_outputs(sources["cf"], own_stacks, cf_reads)
        else:
            sources["cf"] = _own_stack_outputs(sources["cf"], own_stacks, cf_reads)
    elif service.params:
        _need_no_stack_outputs(root, env, service)
    if local:
        sources["cf"] = _local_layer_outputs(sources["cf"])
        sources["aws"] = _emulator_account(sources["aws"])
    compose_params = resolve_compose_params(
        root,
        replace(service, params=tuple(p for p in service.params if p[0] not in env.params)),
        stage=env.stage,
        env=ChainMap(dict(values.values), os.environ),
        options=options,
        sources=sources,
    )
    return load_service(
        root / service.path,
        service.config_path,
        stage=env.stage,
        env=values.values,
        # Compose's `--param`s, under the environment's own (which may stand in for them)
        params={**compose_params, **env.params},
        options=options,
        sources=sources,
        config_file=service.config_file,
    )


def _local_parameters(local: bool, state_dir: Path | None) -> ParameterReader | None:
    if not local:
        return None
    if state_dir is None:
        return _NO_PARAMETERS
    return LocalParameters(state_dir)


class _NoParameters:
    """A local environment's `${ssm:}` where no state directory is known: nothing."""

    def ssm_parameter(
        self, name: str, decrypt: bool = True, region: str | None = None
    ) -> SsmParameter | None:
        return None


_NO_PARAMETERS = _NoParameters()


def _need_no_stack_outputs(root: Path, env: Environment, service: Service) -> None:
    """A target with no stacks (local) has no `${service.Output}` for a Compose param:
    each one is an error naming it, unless the environment gives the param itself."""
    errors = []
    for name, text in service.params:
        if name in env.params:
            continue
        raw, where = compose_param(root, service.path, name) or (text, None)
        for sibling, output in sibling_outputs(raw):
            errors.append(
                ShipwayError(
                    f"param `{name}` reads output `{output}` of service `{sibling}`'s stack; "
                    f"environment `{env.name}` deploys to the local target, which has no "
                    "stack outputs",
                    where,
                    hint=f"give it in shipway.yml: `environments.{env.name}.params.{name}`, "
                    "or deploy this environment to an aws target",
                )
            )
    if errors:
        raise ConfigErrors(errors)


def pending_value(stack: str, output: str) -> str:
    """What `${cf:<stack>.<output>}` stands for while the stack is still to be deployed."""
    return f"(pending: output {output} of {stack}, deployed earlier in this run)"


def _own_stack_outputs(
    real: SourceFn,
    own_stacks: Mapping[str, Mapping[str, str] | None],
    reads: CfReads | None,
) -> SourceFn:
    def cf(call: SourceCall) -> Any:
        stack, dot, output = (call.address or "").partition(".")
        if not dot or stack not in own_stacks:
            return real(call)
        deployed = own_stacks[stack]
        if deployed is not None:  # deployed in this run: what it outputs now
            value: Any = deployed.get(output)
            if value is None:
                return Absent(f"stack `{stack}` has no output `{output}`")
        else:
            value = real(call)
            if isinstance(value, Absent) or value is None:
                value = None
        if reads is not None:
            reads[(stack, output)] = None if value is None else str(value)
        return pending_value(stack, output) if value is None else value

    return cf


def _emulated_stack_outputs(
    real: SourceFn, own_stacks: Mapping[str, Mapping[str, str] | None], reads: CfReads | None
) -> SourceFn:
    """On a local environment, `${cf:}` of a stack of the repository is a reference the
    local runtime resolves on the emulator when it starts a function (its stacks get new
    physical names when the server puts them back); other stacks are asked of AWS."""

    def cf(call: SourceCall) -> Any:
        stack, dot, output = (call.address or "").partition(".")
        if not dot or stack not in own_stacks:
            return real(call)
        given = [p for p in call.params if p is not None]
        region = str(given[0]) if given else call.resolver.region
        reference = output_reference(region, stack, output)
        if reads is not None:
            reads[(stack, output)] = reference
        return reference

    return cf


def _local_layer_outputs(real: SourceFn) -> SourceFn:
    """On a local environment, `${cf:<stack>.<Name>LambdaLayerQualifiedArn}` asks no AWS:
    it names the layer to the local runtime, which provides it when `<stack>` is a service
    of the repository (targets/local/layers.py), and warns when it is not."""

    def cf(call: SourceCall) -> Any:
        stack, dot, output = (call.address or "").partition(".")
        if dot and is_layer_output(output):
            return local_layer_arn(stack, output)
        return real(call)

    return cf


def _emulator_account(real: SourceFn) -> SourceFn:
    """On a local environment, `${aws:accountId}` is the local AWS emulator's account: the
    release's stacks, and the ARNs built from it, are the emulator's. No AWS is asked."""

    def aws(call: SourceCall) -> Any:
        address = (call.address or "").strip()
        if address == "accountId":
            return EMULATOR_ACCOUNT
        if address == "region":
            return call.resolver.region
        return real(call)  # its error names what is supported

    return aws


def seed_problems(env: Environment, definitions: Sequence[ServiceDefinition]) -> list[ShipwayError]:
    """Each `seed` entry names a function of the services the run deploys."""
    functions = {f"{d.service}.{fn.name}" for d in definitions for fn in d.functions}
    return [
        ShipwayError(
            f"`{entry}` is not a function of this commit's services",
            Where(PROJECT_FILE, None, f"environments.{env.name}.seed[{index}]"),
            hint="SERVICE.FUNCTION, as `shipway invoke` names it",
        )
        for index, entry in enumerate(env.seed)
        if entry not in functions
    ]


def _remember_one(value: str) -> None:
    remember((value,))


def plan_run(
    root: Path,
    env_name: str,
    commit: str,
    project: Project | None = None,
    governing: Mapping[str, Environment] | None = None,
    support: SupportCheck | None = None,
    state_dir: Path | None = None,
) -> RunPlan:
    """Read the commit's files in `root` and decide the run; ConfigErrors lists every problem.
    `governing`: the environments that govern it (config/governing.py), in place of the
    commit's own. `support`: lists a service's refused settings (see verdict.py).
    `state_dir`: where a local environment's `${ssm:}` parameters are (see load_definition)."""
    with watching() as seen:
        plan = _plan_run(root, env_name, commit, project, governing, support, state_dir)
    return replace(plan, resolved_secrets=frozenset(seen))


def _plan_run(
    root: Path,
    env_name: str,
    commit: str,
    project: Project | None,
    governing: Mapping[str, Environment] | None,
    support: SupportCheck | None,
    state_dir: Path | None,
) -> RunPlan:
    if project is None and not (root / PROJECT_FILE).is_file():
        raise ShipwayError(
            f"commit {commit[:12]} has no {PROJECT_FILE}",
            hint="commit shipway.yml to the environment's branch first",
        )
    project = project or load_project(root)
    if governing is not None:
        project = replace(project, environments=dict(governing))
    env = environment(project, env_name)
    errors: list[ShipwayError] = []
    warnings: list[ShipwayError] = []
    services: list[ServicePlan] = []
    own = own_stacks(project, env)
    from shipway.pipeline.verdict import service_verdict  # it loads through this module

    for service in project.services:
        reads: CfReads = {}
        buildspec = None
        try:
            values = service_env(root, env, service)
            # the verdict `validate` gives, for every target: refused is refused here too
            verdict = service_verdict(
                root,
                env,
                service,
                values,
                own_stacks=own,
                cf_reads=reads,
                support=support,
                state_dir=state_dir,
            )
        except ShipwayError as exc:
            errors.append(exc)
            continue
        errors += verdict.errors
        warnings += verdict.warnings
        try:
            if service.buildspec_path:
                buildspec = parse_buildspec(root / service.buildspec_path, service.buildspec_path)
        except ConfigErrors as exc:
            errors += exc.errors
            continue
        except ShipwayError as exc:
            errors.append(exc)
            continue
        if verdict.definition is None or not verdict.ok:
            continue
        services.append(ServicePlan(service, verdict.definition, buildspec, values, reads))
    if not errors:  # (a service that did not load hides its functions)
        errors += seed_problems(env, [s.definition for s in services])
    if errors:
        raise ConfigErrors(errors)
    waves = tuple(tuple(s.name for s in wave) for wave in deploy_waves(project.services))
    return RunPlan(project, env, commit, tuple(services), waves, warnings=tuple(warnings))


def own_stacks(project: Project, env: Environment) -> dict[str, Mapping[str, str] | None]:
    """The stack names `<service>-<stage>` of the repository's services, none deployed yet
    in the run (see `load_definition`): on AWS, or on a local environment's emulator."""
    return {f"{s.name}-{env.stage}": None for s in project.services}


def build_variables(plan: RunPlan, service: str, run_id: str, seq: int) -> Mapping[str, str]:
    """The CODEBUILD_* and SHIPWAY_* variables a build sees (they override everything)."""
    env = plan.environment
    region = (
        env.target.region
        if isinstance(env.target, AwsTarget)
        else plan.service(service).definition.region
    )
    return {
        "CODEBUILD_BUILD_ID": f"{plan.project.name}-{service}:{run_id}",
        "CODEBUILD_BUILD_NUMBER": str(seq),
        "CODEBUILD_RESOLVED_SOURCE_VERSION": plan.commit,
        "CODEBUILD_SOURCE_VERSION": plan.commit,
        "CODEBUILD_INITIATOR": f"shipway/{env.name}",
        "CODEBUILD_WEBHOOK_HEAD_REF": f"refs/heads/{env.branch}",
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "SHIPWAY_ENV": env.name,
        "SHIPWAY_SERVICE": service,
        "SHIPWAY_COMMIT": plan.commit,
        "SHIPWAY_RUN_ID": run_id,
    }
