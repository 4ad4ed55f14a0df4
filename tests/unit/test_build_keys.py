"""Build input keys: what they cover, and that computing them is linear in the files."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from shipway import __version__
from shipway.model import BuildSettings, Project, Service
from shipway.pipeline.keys import FileIndex, build_key


def _project(services: list[Service]) -> Project:
    return Project("p", Path("/nowhere"), tuple(services), {}, BuildSettings(2, 60))


def _svc(name: str, path: str, shared: tuple[str, ...] = ()) -> Service:
    return Service(name, path, "serverless.yml", None, shared=shared)


def _reference_key(service: Service, project: Project, files: Mapping[str, str]) -> str:
    """The key as its definition reads, one file at a time (the old, quadratic way)."""

    def under(path: str, folder: str) -> bool:
        return folder in (".", "") or path == folder or path.startswith(folder.rstrip("/") + "/")

    folders = [s.path for s in project.services]
    own = sorted((p, b) for p, b in files.items() if under(p, service.path))
    shared = sorted((p, b) for p, b in files.items() if any(under(p, s) for s in service.shared))
    outside = sorted(
        (p, b)
        for p, b in files.items()
        if not any(under(p, f) for f in folders)
        and p not in ("shipway.yml", "shipway.yaml")
        and not (p == ".env" or p.startswith(".env."))
    )
    document = {
        "shipway": __version__,
        "python": sys.version.split()[0],
        "build": "default",
        "files": own,
        "shared": shared,
        "outside": outside,
        "variables": {},
        "patterns": [],
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


FILES = {
    "shipway.yml": "1",
    ".env": "2",
    ".env.dev": "3",
    "README.md": "4",
    "libs/common/util.py": "5",
    "libs/other/x.py": "6",
    "config/settings.json": "7",
    "services/a/serverless.yml": "8",
    "services/a/handler.py": "9",
    "services/a/nested/serverless.yml": "10",  # a service inside another's folder
    "services/a/nested/h.py": "11",
    "services/ab/serverless.yml": "12",  # a name that starts like services/a
    "services/b/serverless.yml": "13",
    "services/b/.env": "14",
}
SERVICES = [
    _svc("a", "services/a"),
    _svc("nested", "services/a/nested"),
    _svc("ab", "services/ab", shared=("libs/common", "services/a/nested/h.py")),
    _svc("b", "services/b/", shared=("libs/", "services/a/handler.py")),
]


def _keys(files: Mapping[str, str], services: list[Service] = SERVICES) -> dict[str, str]:
    project = _project(services)
    index = FileIndex.for_project(project, files)
    return {s.name: build_key(s, index, {}, None) for s in services}


def test_keys_are_those_their_definition_gives() -> None:
    # the same values as before the index: builds stored by an earlier version stay reusable
    project = _project(SERVICES)
    expected = {s.name: _reference_key(s, project, FILES) for s in SERVICES}
    assert _keys(FILES) == expected
    assert len(set(expected.values())) == len(SERVICES)


def test_a_service_at_the_root_sees_every_file_and_leaves_none_outside() -> None:
    services = [_svc("root", "."), _svc("a", "services/a")]
    project = _project(services)
    assert _keys(FILES, services) == {s.name: _reference_key(s, project, FILES) for s in services}


def test_same_inputs_same_key_in_any_order() -> None:
    reordered = dict(reversed(list(FILES.items())))
    assert _keys(reordered) == _keys(FILES)


def test_a_file_outside_every_service_changes_every_key() -> None:
    before = _keys(FILES)
    after = _keys({**FILES, "README.md": "changed"})
    assert all(before[name] != after[name] for name in before)


def test_config_and_env_files_at_the_root_change_no_key() -> None:
    before = _keys(FILES)
    assert _keys({**FILES, "shipway.yml": "changed", ".env.dev": "changed"}) == before


def test_a_service_file_changes_its_key_and_those_that_contain_or_share_it() -> None:
    before = _keys(FILES)
    after = _keys({**FILES, "services/a/handler.py": "changed"})
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"a", "b"}  # b shares the file; nested and ab do not see it
    after = _keys({**FILES, "services/a/nested/h.py": "changed"})
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"a", "nested", "ab"}  # a's folder holds nested's; ab shares the file


def test_a_file_in_no_service_folder_counts_for_all_whether_shared_or_not() -> None:
    before = _keys(FILES)
    for path in ("libs/common/util.py", "libs/other/x.py", "config/settings.json"):
        after = _keys({**FILES, path: "changed"})
        assert all(before[n] != after[n] for n in before), path


class _CountingFiles(Mapping[str, str]):
    """A commit's file list that counts how many entries are read."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.read = 0

    def __getitem__(self, key: str) -> str:
        self.read += 1
        return self.files[key]

    def __iter__(self) -> Iterator[str]:
        for key in self.files:
            self.read += 1
            yield key

    def __len__(self) -> int:
        return len(self.files)


def test_keys_of_300_services_read_each_file_once() -> None:
    services = [
        _svc(f"s{n}", f"services/s{n}", shared=("libs/common",) if n % 3 == 0 else ())
        for n in range(300)
    ]
    files = {f"services/s{n}/f{k}.py": f"{n}:{k}" for n in range(300) for k in range(8)}
    files |= {f"libs/common/m{k}.py": str(k) for k in range(20)}
    files |= {f"tools/t{k}.sh": str(k) for k in range(20)}
    counted = _CountingFiles(files)
    index = FileIndex.for_project(_project(services), counted)
    keys = {s.name: build_key(s, index, {}, None) for s in services}
    assert len(set(keys.values())) == 300
    # one pass over the commit (the quadratic way read 3 x 300 x 2,440 entries), and per
    # file one look-up for the path and each parent folder: 3 for services/sN/fK.py
    assert counted.read <= 2 * len(files)
    assert index.lookups <= 3 * len(files)
    assert len(index.outside) == 40  # libs and tools: in no service folder
    assert index.under("services/s7") == sorted(
        (p, b) for p, b in files.items() if p.startswith("services/s7/")
    )
