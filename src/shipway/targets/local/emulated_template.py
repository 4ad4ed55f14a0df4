"""What of a service's CloudFormation template the local AWS emulator holds.

The local runtime serves the functions, routes, layers and logs itself; the emulator holds
the rest — the tables, buckets, queues, topics and parameters the functions talk to — so
that they exist with the names and outputs they would have on AWS. From the template
`serverless package` writes, `emulated_template` takes out what the local runtime serves
(Lambda, API Gateway, log groups, the deployment bucket, roles only Lambda assumes, custom
resources, whose Lambda cannot run here, and the deployment bucket: no code goes there),
and what depends on those alone. A reference to
a function that was taken out becomes its name or ARN (the local runtime answers to both).

A function's environment values that are CloudFormation expressions (`{Ref: UsersTable}`,
`Fn::GetAtt`, `Fn::Sub`, `Fn::ImportValue` …) become outputs of the emulated stack, so the
emulator resolves them as CloudFormation would; `env_outputs` says which output holds
which variable. Pure: no emulator, no I/O.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from shipway.config.stack_inputs import is_expression

__all__ = ["NO_BUCKET", "EmulatedTemplate", "emulated_template", "holds_resources"]

#: resource types the local runtime serves itself (or that mean nothing on 127.0.0.1)
_SERVED_PREFIXES = (
    "AWS::Lambda::",
    "AWS::ApiGateway::",
    "AWS::ApiGatewayV2::",
    "AWS::Logs::",
    "AWS::Scheduler::",
    "Custom::",
)
_SERVED_TYPES = frozenset({"AWS::CloudFormation::CustomResource"})
# no code goes to the emulator, so no deployment bucket: the stack names one it does not
# own (the output the AWS path reads), and that path creates it in one step
_BUCKET = "ServerlessDeploymentBucket"
_BUCKET_POLICY = "ServerlessDeploymentBucketPolicy"
_BUCKET_OUTPUT = "ServerlessDeploymentBucketName"
NO_BUCKET = "shipway-local-emulator-holds-no-code"
_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}")
_LAMBDA_ARN = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"


@dataclass(frozen=True)
class EmulatedTemplate:
    """`template`: the stack the emulator holds (None: nothing to hold); `env_outputs`:
    function name -> variable -> the output holding its value; `notes`: what could not be
    carried over, in a sentence each."""

    template: dict[str, Any] | None
    env_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def holds_resources(template: Mapping[str, Any]) -> bool:
    """Whether the emulator would hold anything of `template` (quick: no copy)."""
    resources: Mapping[str, Any] = template.get("Resources") or {}
    return any(not _served(logical, r) for logical, r in resources.items())


def emulated_template(template: Mapping[str, Any]) -> EmulatedTemplate:
    resources: dict[str, Any] = copy.deepcopy(dict(template.get("Resources") or {}))
    functions = {
        logical: resource
        for logical, resource in resources.items()
        if _type(resource) == "AWS::Lambda::Function"
    }
    served = {logical for logical, resource in resources.items() if _served(logical, resource)}
    # what stands in for a function taken out: its name (Ref) and ARN (GetAtt Arn)
    names = {logical: _function_name(resource) for logical, resource in functions.items()}
    notes: list[str] = []
    kept: dict[str, Any] = {}
    dropped = set(served)
    changed = True
    while changed:  # a resource that needs a dropped one (not a function) goes too
        changed = False
        for logical, resource in resources.items():
            if logical in dropped:
                continue
            # `DependsOn` is order alone: a dropped resource there is taken off the list
            needs = {k: v for k, v in resource.items() if k != "DependsOn"}
            missing = {ref for ref in _refs(needs) if ref in dropped and names.get(ref) is None}
            if missing:
                dropped.add(logical)
                changed = True
                notes.append(
                    f"`{logical}` ({_type(resource)}) is not created on the local emulator: it "
                    f"needs {', '.join(f'`{m}`' for m in sorted(missing))}, which the local "
                    "runtime serves itself"
                )
    for logical, resource in resources.items():
        if logical in dropped:
            continue
        item = _substitute(resource, dropped, names)
        _strip_lambda_notifications(item)
        depends = item.get("DependsOn")
        if depends is not None:
            listed = [depends] if isinstance(depends, str) else list(depends)
            listed = [d for d in listed if d not in dropped]
            if listed:
                item["DependsOn"] = listed
            else:
                del item["DependsOn"]
        kept[logical] = item
    outputs: dict[str, Any] = {}
    for key, output in (template.get("Outputs") or {}).items():
        if not any(ref in dropped for ref in _refs(output)):
            outputs[key] = copy.deepcopy(output)
    env_outputs: dict[str, dict[str, str]] = {}
    for logical, resource in functions.items():
        name = names[logical]
        variables = ((resource.get("Properties") or {}).get("Environment") or {}).get(
            "Variables"
        ) or {}
        for var, value in variables.items():
            if not is_expression(value):
                continue
            unknown = {ref for ref in _refs(value) if ref in dropped and names.get(ref) is None}
            if unknown or name is None:
                notes.append(
                    f"`{var}` of function `{name or logical}` reads "
                    f"{', '.join(f'`{u}`' for u in sorted(unknown))}, which the local runtime "
                    "serves itself: it keeps its expression as text"
                )
                continue
            key = "ShipwayEnv" + hashlib.sha256(f"{logical}/{var}".encode()).hexdigest()[:16]
            outputs[key] = {"Value": _substitute(value, dropped, names)}
            env_outputs.setdefault(name, {})[str(var)] = key
    if not kept:  # nothing the functions could use
        return EmulatedTemplate(None, {}, tuple(notes))
    outputs[_BUCKET_OUTPUT] = {"Value": NO_BUCKET}
    out: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": kept}
    for section in ("Parameters", "Conditions", "Mappings"):
        if template.get(section):
            out[section] = copy.deepcopy(template[section])
    if outputs:
        out["Outputs"] = outputs
    return EmulatedTemplate(out, env_outputs, tuple(notes))


# --------------------------------------------------------------------------- parts


def _type(resource: Any) -> str:
    return str(resource.get("Type", "")) if isinstance(resource, Mapping) else ""


def _served(logical: str, resource: Any) -> bool:
    kind = _type(resource)
    if logical in (_BUCKET, _BUCKET_POLICY) or kind in _SERVED_TYPES:
        return True
    if kind.startswith(_SERVED_PREFIXES):
        return True
    if kind == "AWS::IAM::Role":  # a role only Lambda assumes: nothing here assumes it
        principals = [
            (s.get("Principal") or {}).get("Service")
            for s in ((resource.get("Properties") or {}).get("AssumeRolePolicyDocument") or {}).get(
                "Statement"
            )
            or []
            if isinstance(s, Mapping)
        ]
        flat = [p for item in principals for p in (item if isinstance(item, list) else [item])]
        return bool(flat) and all(p == "lambda.amazonaws.com" for p in flat)
    if kind == "AWS::SNS::Subscription":  # a topic's delivery to a function
        return str((resource.get("Properties") or {}).get("Protocol", "")).lower() == "lambda"
    if kind == "AWS::Events::Rule":  # rules whose targets are functions: the local bus's
        targets = (resource.get("Properties") or {}).get("Targets") or []
        return bool(targets)
    return False


def _function_name(resource: Mapping[str, Any]) -> str | None:
    name = (resource.get("Properties") or {}).get("FunctionName")
    return name if isinstance(name, str) else None


def _refs(value: Any) -> Iterator[str]:
    """The logical IDs `value` refers to (Ref, Fn::GetAtt, Fn::Sub, DependsOn)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                yield item
            elif key == "Fn::GetAtt":
                target = item[0] if isinstance(item, list) and item else item
                if isinstance(target, str):
                    yield target.split(".", 1)[0]
            elif key == "Fn::Sub":
                text, local = (item[0], item[1]) if isinstance(item, list) else (item, {})
                if isinstance(text, str):
                    for match in _SUB_NAME.finditer(text):
                        if match[1] not in (local or {}):
                            yield match[1]
                if isinstance(local, Mapping):
                    yield from _refs(local)
            elif key == "DependsOn":
                yield from [item] if isinstance(item, str) else (item or [])
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _substitute(value: Any, dropped: set[str], names: Mapping[str, str | None]) -> Any:
    """`value` with references to functions taken out replaced by their name / ARN."""
    if isinstance(value, Mapping):
        if len(value) == 1:
            (key, item), *_ = value.items()
            if key == "Ref" and item in dropped and names.get(item):
                return names[item]
            if key == "Fn::GetAtt":
                parts = item if isinstance(item, list) else str(item).split(".", 1)
                if parts and parts[0] in dropped and names.get(parts[0]):
                    return {"Fn::Sub": _LAMBDA_ARN + str(names[parts[0]])}
            if key == "Fn::Sub":
                return {"Fn::Sub": _sub(item, dropped, names)}
        return {k: _substitute(v, dropped, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, dropped, names) for v in value]
    return value


def _sub(item: Any, dropped: set[str], names: Mapping[str, str | None]) -> Any:
    def replace(match: re.Match[str]) -> str:
        name = names.get(match[1])
        if match[1] not in dropped or not name:
            return match[0]
        return name if match[2] is None else _LAMBDA_ARN + name

    if isinstance(item, str):
        return _SUB_NAME.sub(replace, item)
    if isinstance(item, list) and item and isinstance(item[0], str):
        return [
            _SUB_NAME.sub(replace, item[0]),
            *[_substitute(v, dropped, names) for v in item[1:]],
        ]
    return item


def _strip_lambda_notifications(resource: dict[str, Any]) -> None:
    """A bucket's notifications and a topic's subscriptions to functions are the local
    runtime's to deliver (the emulator, asked to call a function it does not have, would
    fail the publish itself)."""
    if _type(resource) == "AWS::SNS::Topic":
        properties = resource.get("Properties") or {}
        subscriptions = properties.get("Subscription")
        if isinstance(subscriptions, list):
            kept = [
                s
                for s in subscriptions
                if not (isinstance(s, dict) and str(s.get("Protocol", "")).lower() == "lambda")
            ]
            if kept:
                properties["Subscription"] = kept
            else:
                del properties["Subscription"]
        return
    if _type(resource) != "AWS::S3::Bucket":
        return
    config = (resource.get("Properties") or {}).get("NotificationConfiguration")
    if isinstance(config, dict) and "LambdaConfigurations" in config:
        del config["LambdaConfigurations"]
        if not config:
            del resource["Properties"]["NotificationConfiguration"]
