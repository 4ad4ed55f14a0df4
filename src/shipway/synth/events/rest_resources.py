"""The REST API's resource tree (api-gateway/lib/resources.js `getResourcePaths`).

Without `provider.apiGateway.restApiResources`, every path segment of every `http` event
gets an `AWS::ApiGateway::Resource`. With it (resources of a REST API made elsewhere, by
path), the paths it names are not created: their methods and child resources use the
given IDs, and only what lies below them (or beside them, from the root) is created.
The tree is cut exactly where the Framework cuts it, and fails where it fails (a method
whose ancestor's ID is not given).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shipway.synth import naming

__all__ = ["PathResource", "predefined_resources", "resource_paths"]


@dataclass(eq=False)
class PathResource:
    path: str  # without leading or trailing "/"
    part: str
    parent: PathResource | None
    level: int
    children: list[PathResource] = field(default_factory=list)
    name: str | None = None  # the method IDs' resource name (normalized path by default)
    resource_id: Any = None  # given (restApiResources), or {"Ref": …} once compiled
    has_method: bool = False
    is_cut: bool = False


def predefined_resources(value: Any) -> list[dict[str, Any]]:
    """provider.js getApiGatewayPredefinedResources: a list as given, or a mapping of path
    to resource ID."""
    if not value:
        return []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    if isinstance(value, dict):
        return [{"path": key, "resourceId": rid} for key, rid in value.items()]
    return []


def resource_paths(
    event_paths: list[str],
    predefined: list[dict[str, Any]],
    fail: Callable[[str], Exception],
) -> dict[str, PathResource]:
    """path -> its resource, in the order the Framework compiles them (`fail` makes the
    error for a tree that cannot be built)."""
    trees: list[PathResource] = []
    predefined_nodes: list[PathResource] = []
    method_nodes: list[PathResource] = []

    def apply(path_given: str, name: Any, resource_id: Any, is_method: bool) -> None:
        path = path_given.removeprefix("/").removesuffix("/") if path_given else ""
        parts = path.split("/")
        root: PathResource | None = None
        parent: PathResource | None = None
        current = ""

        def mark(node: PathResource, index: int) -> None:
            nonlocal parent
            if index == len(parts) - 1:
                node.name = name
                if resource_id:
                    node.resource_id = resource_id
                    if all(n.path != node.path for n in predefined_nodes):
                        predefined_nodes.append(node)
                if is_method and not node.has_method:
                    node.has_method = True
                    if all(n.path != node.path for n in method_nodes):
                        method_nodes.append(node)
            parent = node

        for index, part in enumerate(parts):
            current = f"{current}/{part}" if current else part
            root = root or next((t for t in trees if t.path == current), None)
            parent = parent or root
            if parent is not None:
                if parent.path == current:
                    mark(parent, index)
                    continue
                found = next((c for c in parent.children if c.path == current), None)
                if found is not None:
                    mark(found, index)
                    continue
            node = PathResource(current, part, parent, index)
            if parent is not None:
                parent.children.append(node)
            if root is None:
                root = node
                trees.append(node)
            mark(node, index)

    for item in predefined:
        apply(str(item.get("path") or ""), item.get("name"), item.get("resourceId"), False)
    for path in event_paths:
        apply(path, None, None, True)

    if not predefined_nodes:
        return _combine(trees)
    if all(any(n.path == path for n in predefined_nodes) for path in event_paths):
        # every method has its resource: only the given ones, keyed as given
        out: dict[str, PathResource] = {}
        for item in predefined:
            given = str(item.get("path") or "")
            out[given] = PathResource(
                given,
                given.rsplit("/", 1)[-1],
                None,
                0,
                name=item.get("name") or naming.normalize_path(given),
                resource_id=item.get("resourceId"),
            )
        return out

    for node in sorted(predefined_nodes, key=lambda n: n.level)[::-1]:
        step: PathResource | None = node
        while step is not None and step.parent is not None:
            if step.parent.has_method and not step.parent.resource_id:
                raise fail(f"Resource ID for path {step.parent.path} is required")
            if step.parent.resource_id or len(step.parent.children) > 1:
                _cut(step)
                break
            step = step.parent

    validated: list[PathResource] = []
    for method_node in method_nodes:
        step = method_node
        while step is not None:
            if step.resource_id:
                _cut(step)
                if all(t.path != method_node.path for t in validated):
                    validated.append(step)
                break
            if step.is_cut or (step.parent is None and step.level > 0):
                raise fail(f"Resource ID for path {step.path} is required")
            if step.parent is None:
                validated.append(step)
                break
            step = step.parent
    return _combine(validated)


def _cut(node: PathResource) -> None:
    parent = node.parent
    if parent is None:
        return
    if len(parent.children) <= 1:
        parent.children = []
    else:
        parent.children = [c for c in parent.children if c.path != node.path]
        parent.is_cut = True
    node.parent = None


def _combine(trees: list[PathResource]) -> dict[str, PathResource]:
    out: dict[str, PathResource] = {}

    def visit(node: PathResource) -> None:
        out[node.path] = node
        if not node.name:
            node.name = naming.normalize_path(node.path)
        for child in node.children:
            visit(child)

    for tree in trees:
        visit(tree)
    return out
