"""The service's Lambda layers (`layers.<name>.path`), zipped after its build.

As the Serverless Framework packages them (package-service.js packageLayer): the files of
the layer's folder, named relative to it, chosen by the default excludes, then the
service's and the layer's patterns. They are zipped after the build's commands ran, so a
build can fill the folder (`pip install -t layer/python …`). The service's own package
leaves the layer folders out (`layer_excludes`), as the Framework's does.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from shipway.archive import sha256_of
from shipway.build.errors import BuildFailed
from shipway.build.logs import BuildLog
from shipway.build.package import package_files, zip_files
from shipway.model import LayerArtifact

__all__ = ["LayerSource", "layer_excludes", "zip_layers"]

#: (name under `layers:`, its folder relative to the service, its patterns in order, or
#: the zip the build leaves for it: `package.artifact`)
LayerSource = tuple[str, str, tuple[str, ...], str | None]


def layer_excludes(layers: tuple[LayerSource, ...]) -> tuple[str, ...]:
    """What the service's package leaves out: every layer's folder."""
    return tuple(
        "**" if path == "." else f"{path}/**" for _, path, _, artifact in layers if not artifact
    )


def zip_layers(
    service: str,
    service_dir: Path,
    layers: tuple[LayerSource, ...],
    exclude_files: tuple[str, ...],
    out_dir: Path,
    log: BuildLog,
) -> tuple[LayerArtifact, ...]:
    """One deterministic zip per layer in `out_dir` (`<name>.zip`); BuildFailed naming
    the layer when its folder is missing or no file matches."""
    out = []
    for name, path, patterns, artifact in layers:
        if artifact is not None:
            out.append(_prebuilt(service, service_dir, name, artifact, out_dir, log))
            continue
        folder = service_dir / path
        if not folder.resolve().is_relative_to(service_dir.resolve()):
            raise BuildFailed(f"layer `{name}`: `{path}` leads outside the service folder")
        if not folder.is_dir():
            raise BuildFailed(
                f"layer `{name}`: its path `{path}` is not a folder after the build "
                "(create it in the repository, or in the build's commands)"
            )
        chosen = package_files(folder, patterns, exclude_files)
        if not chosen:
            raise BuildFailed(
                f"layer `{name}`: no file in `{path}` matches the include / exclude patterns"
            )
        art = zip_files(
            service, {rel: folder / rel for rel in chosen}, out_dir / f"{name}.zip", (folder,)
        )
        log.agent(f"Layer {name}: {len(chosen)} files, {art.size} bytes, sha256 {art.sha256}")
        out.append(LayerArtifact(name, art.path, art.sha256, art.size))
    return tuple(out)


def _prebuilt(
    service: str, service_dir: Path, name: str, artifact: str, out_dir: Path, log: BuildLog
) -> LayerArtifact:
    """A layer's `package.artifact`: the zip the build left, copied as it is."""
    source = service_dir / artifact
    if not source.resolve().is_relative_to(service_dir.resolve()):
        raise BuildFailed(f"layer `{name}`: `{artifact}` leads outside the service folder")
    if not source.is_file() or not zipfile.is_zipfile(source):
        raise BuildFailed(
            f"layer `{name}`: `package.artifact` `{artifact}` is not a zip after the build "
            "(make it in the build's commands, or give the layer a `path`)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / f"{name}.zip"
    shutil.copyfile(source, dest)
    digest = sha256_of(dest)
    log.agent(f"Layer {name}: {artifact} as built, {dest.stat().st_size} bytes, sha256 {digest}")
    return LayerArtifact(name, dest, digest, dest.stat().st_size)
