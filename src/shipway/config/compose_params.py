"""The `params` serverless-compose.yml gives a service, resolved for one stage.

Compose resolves `${sls:stage}`, `${env:NAME}` and `${<service>.<Output>}` in them before it
passes them as `--param`. Here the last is read as the `${cf:<stack>.<Output>}` it stands
for (config/compose_services.py wrote it so), by the resolver and the sources that resolve
the service itself: a sibling's stack deployed earlier in the same run is read as any
`${cf:}` of a stack of the repository is (pipeline/plan.py `own_stacks`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipway.config.compose import compose_file, compose_folder, read_compose
from shipway.config.variables import Resolver, SourceFn
from shipway.config.yamlsrc import LineDict, key_path, line_of, load_yaml
from shipway.errors import ShipwayError, Where
from shipway.model import Service


def resolve_compose_params(
    root: Path,
    service: Service,
    *,
    stage: str,
    env: Mapping[str, str],
    options: Mapping[str, Any],
    sources: Mapping[str, SourceFn],
) -> dict[str, str]:
    """`service.params` resolved; ConfigErrors naming the Compose file, line and key."""
    if not service.params:
        return {}
    name = compose_file(root)
    doc = load_yaml(root / name, name, root, core_booleans=True) if name else None
    services = doc.get("services") if isinstance(doc, LineDict) else None
    key = next(
        (
            k
            for k, block in (services or {}).items()
            if isinstance(block, dict) and _folder(block.get("path")) == service.path
        ),
        None,
    )
    block = services[key].get("params") if services and key else None
    if not name or key is None or not isinstance(doc, LineDict) or not isinstance(block, LineDict):
        raise ShipwayError(
            f"the Compose params of `{service.name}` changed while reading them",
            Where(name or "serverless-compose.yml"),
        )
    for param, text in service.params:  # the text with `${cf:…}` for `${service.Output}`
        block[param] = text
    resolver = Resolver(
        doc,
        display=name,
        service_dir=root,
        options={**options, "stage": stage},
        env=env,
        sources=sources,
        root=root,
    )
    out = {p: resolver.resolve_key(["services", key, "params", p]) for p, _ in service.params}
    # `--param key=value`: text, as the service's `${param:}` sees it
    return {p: v if isinstance(v, str) else str(v) for p, v in out.items()}


def _folder(raw: object) -> str | None:
    return compose_folder(raw) if isinstance(raw, str) else None


def compose_param(root: Path, folder: str, param: str) -> tuple[str, Where] | None:
    """The text of the param Compose gives the service in `folder`, as written, and where
    (for errors raised after reading); None when there is none."""
    try:
        compose = read_compose(root)
    except ShipwayError:
        return None
    cs = next((s for s in compose.services if s.path == folder), None) if compose else None
    text = dict(cs.params).get(param) if cs else None
    if compose is None or cs is None or text is None:
        return None
    path: list[str | int] = ["services", cs.key, "params", param]
    doc = load_yaml(root / compose.file, compose.file, root, core_booleans=True)
    return text, Where(compose.file, line_of(doc, path), key_path(path))
