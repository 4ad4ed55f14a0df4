"""Lambda layers on the local runtime: what a function sees in `/opt`.

A layer the local runtime can provide is one built in the same release: a layer of the
function's own service (`{Ref: <Name>LambdaLayer}`), or of a sibling service of the
repository, named by `${cf:<sibling-stack>.<Name>LambdaLayerQualifiedArn}` or by an ARN
whose layer name is that layer's `name`. On a local environment such a `${cf:}` reads no
AWS: it stands for `local_layer_arn(stack, output)`, which names the layer to this module.
Any other layer (an ARN of another account's layer, an import) cannot be provided here:
it is a warning, since the function may then fail to import what the layer holds.

A layer's unpacked zip is `<release>/.layers/<service>/<layer>/`; its `python/` and
`python/lib/python3.x/site-packages` go on the function's `sys.path` after the function's
own code (later layers first: on Lambda a later layer's files overwrite an earlier's),
`nodejs/node_modules` on `NODE_PATH`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.model import ServiceDefinition

__all__ = [
    "LAYERS_DIR",
    "LayerCatalog",
    "function_layers",
    "is_layer_output",
    "layer_dirs",
    "local_layer_arn",
    "node_paths",
    "python_paths",
    "release_warnings",
]

#: the release folder's subfolder holding the unpacked layers (service names never start
#: with a dot, so it cannot collide with a service folder)
LAYERS_DIR = ".layers"

_OUTPUT = re.compile(r"\A[A-Za-z0-9]+LambdaLayerQualifiedArn\Z")
_LOCAL_ARN = re.compile(
    r"\Aarn:aws:lambda:local:000000000000:layer:(?P<stack>[A-Za-z0-9-]+)\."
    r"(?P<output>[A-Za-z0-9]+LambdaLayerQualifiedArn):local\Z"
)
_ARN = re.compile(
    r"\Aarn:[a-zA-Z0-9-]+:lambda:[a-z0-9-]+:\d{12}:layer:(?P<name>[A-Za-z0-9_-]+)(:\d+)?\Z"
)


def is_layer_output(output: str) -> bool:
    """`<Name>LambdaLayerQualifiedArn`: the output the Framework writes for a layer."""
    return bool(_OUTPUT.match(output))


def local_layer_arn(stack: str, output: str) -> str:
    """What `${cf:<stack>.<Name>LambdaLayerQualifiedArn}` is on a local environment."""
    return f"arn:aws:lambda:local:000000000000:layer:{stack}.{output}:local"


def _normalized(name: str) -> str:
    text = name.replace("-", "Dash").replace("_", "Underscore")
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class _Layer:
    service: str
    key: str  # the name under `layers:`
    layer_name: str  # LayerName: `name`, else the key

    @property
    def ref(self) -> str:
        return f"{self.service}/{self.key}"

    @property
    def logical_id(self) -> str:
        return f"{_normalized(self.key)}LambdaLayer"


class LayerCatalog:
    """The layers of every service of one release, by what can name them."""

    def __init__(self, definitions: Sequence[ServiceDefinition]) -> None:
        self.by_stack: dict[str, str] = {}
        self.layers: dict[str, list[_Layer]] = {}
        for d in definitions:
            provider = d.resolved.get("provider")
            custom = provider.get("stackName") if isinstance(provider, dict) else None
            self.by_stack[str(custom) if custom else f"{d.service}-{d.stage}"] = d.service
            self.layers[d.service] = [
                _Layer(d.service, str(key), str(spec.get("name") or key))
                for key, spec in (_layers_of(d)).items()
            ]

    def own(self, service: str, logical_id: str) -> _Layer | None:
        return next((x for x in self.layers.get(service, []) if x.logical_id == logical_id), None)

    def by_name(self, layer_name: str) -> _Layer | None:
        for layers in self.layers.values():
            for layer in layers:
                if layer.layer_name == layer_name:
                    return layer
        return None


def _layers_of(definition: ServiceDefinition) -> dict[str, dict[str, Any]]:
    value = definition.resolved.get("layers")
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, dict)}


def _entries(definition: ServiceDefinition, function: str) -> list[Any]:
    """The function's `layers`, else the provider's (the function's replace them)."""
    functions = definition.resolved.get("functions")
    spec = functions.get(function) if isinstance(functions, dict) else None
    if isinstance(spec, dict) and spec.get("layers"):
        return list(spec["layers"])
    provider = definition.resolved.get("provider")
    value = provider.get("layers") if isinstance(provider, dict) else None
    return list(value) if isinstance(value, list) else []


def _resolve(entry: Any, service: str, catalog: LayerCatalog) -> tuple[str | None, str | None]:
    """(the layer's `service/layer`, None) or (None, why it cannot be provided)."""
    if isinstance(entry, dict) and set(entry) == {"Ref"}:
        own = catalog.own(service, str(entry["Ref"]))
        if own is not None:
            return own.ref, None
        return None, f"`{{Ref: {entry['Ref']}}}` names no layer of this service"
    if not isinstance(entry, str):
        return None, f"`{entry}` is not a layer the local runtime can find"
    local = _LOCAL_ARN.match(entry)
    if local:
        stack, output = local["stack"], local["output"]
        sibling = catalog.by_stack.get(stack)
        if sibling is None:
            return None, (
                f"`${{cf:{stack}.{output}}}`: stack `{stack}` is not a service of this "
                "repository in this environment"
            )
        layer = next(
            (x for x in catalog.layers[sibling] if f"{x.logical_id}QualifiedArn" == output), None
        )
        if layer is None:
            return None, f"`${{cf:{stack}.{output}}}`: service `{sibling}` has no such layer"
        return layer.ref, None
    arn = _ARN.match(entry)
    named = catalog.by_name(arn["name"]) if arn else None
    if named is not None:
        return named.ref, None
    return None, f"`{entry}` is not a layer of a service of this repository"


def function_layers(
    definition: ServiceDefinition, catalog: LayerCatalog
) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """({function: its layers as `service/layer`, in order}, a warning per layer the local
    runtime cannot provide)."""
    refs: dict[str, tuple[str, ...]] = {}
    warnings: list[str] = []
    for fn in definition.functions:
        found: list[str] = []
        for entry in _entries(definition, fn.name):
            ref, why = _resolve(entry, definition.service, catalog)
            if ref is not None:
                found.append(ref)
            else:
                warnings.append(
                    f"function `{fn.name}`: layer {why}: the local runtime cannot provide it "
                    "(the function runs without it, and fails to import what only it holds)"
                )
        if found:
            refs[fn.name] = tuple(found)
    return refs, warnings


def release_warnings(definitions: Sequence[ServiceDefinition]) -> dict[str, list[str]]:
    """{service: its layer warnings} for the services of one local release."""
    catalog = LayerCatalog(definitions)
    out = {}
    for d in definitions:
        _, warnings = function_layers(d, catalog)
        if warnings:
            out[d.service] = warnings
    return out


def python_paths(layer_dirs: Sequence[Path], runtime: str) -> list[str]:
    """The `sys.path` entries of a function's layers, in Lambda's order: every layer's
    site-packages, then every layer's `python/`; a later layer before an earlier one."""
    version = runtime.removeprefix("python") if runtime.startswith("python") else ""
    later_first = list(reversed(layer_dirs))
    site = [str(d / "python" / "lib" / f"python{version}" / "site-packages") for d in later_first]
    return [*site, *(str(d / "python") for d in later_first)]


def node_paths(layer_dirs: Sequence[Path], runtime: str) -> list[str]:
    """`NODE_PATH` entries of a function's layers: `nodejs/node<major>/node_modules` and
    `nodejs/node_modules` of each, a later layer before an earlier one."""
    major = runtime.removeprefix("nodejs").split(".", 1)[0]
    out = []
    for d in reversed(layer_dirs):
        out += [
            str(d / "nodejs" / f"node{major}" / "node_modules"),
            str(d / "nodejs" / "node_modules"),
        ]
    return out


def layer_dirs(
    release_dir: Path, refs: Sequence[str], services: Mapping[str, Mapping[str, str]]
) -> tuple[Path, ...]:
    """The unpacked folders of `refs` (`service/layer`) in a release: `services` maps a
    service to {layer: folder relative to the release}; a ref not there is left out."""
    out = []
    for ref in refs:
        service, _, key = ref.partition("/")
        folder = services.get(service, {}).get(key)
        if folder is not None:
            out.append(Path(release_dir / folder))
    return tuple(out)
