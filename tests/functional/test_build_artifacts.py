"""Deterministic zips and safe unpacking."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from shipway.archive import unpack_zip, write_zip
from shipway.errors import ShipwayError


def _tree(root: Path, mtime: int) -> dict[str, Path]:
    files = {"b.txt": "bee", "a/x.py": "print(1)", "run.sh": "#!/bin/sh\n"}
    out = {}
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        os.utime(p, (mtime, mtime))
        out[name] = p
    (root / "run.sh").chmod(0o775)
    (root / "b.txt").chmod(0o600)
    return out


def test_zip_is_byte_identical_and_normalized(tmp_path: Path) -> None:
    one = write_zip("svc", _tree(tmp_path / "one", 1_000_000_000), tmp_path / "one.zip")
    # different insertion order, mtimes and folder
    files = dict(reversed(list(_tree(tmp_path / "two", 1_700_000_000).items())))
    two = write_zip("svc", files, tmp_path / "two.zip")
    assert one.path.read_bytes() == two.path.read_bytes()
    assert one.sha256 == two.sha256 and one.size == two.size == one.path.stat().st_size
    with zipfile.ZipFile(one.path) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["a/x.py", "b.txt", "run.sh"]
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
    assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
    modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in infos}
    assert modes == {"a/x.py": 0o644, "b.txt": 0o644, "run.sh": 0o755}
    assert not any(i.is_dir() for i in infos)


def test_unpack_keeps_exec_bit(tmp_path: Path) -> None:
    art = write_zip("svc", _tree(tmp_path / "src", 0), tmp_path / "a.zip")
    dest = tmp_path / "dest"
    assert sorted(unpack_zip(art.path, dest)) == ["a/x.py", "b.txt", "run.sh"]
    assert os.access(dest / "run.sh", os.X_OK)
    assert not os.access(dest / "b.txt", os.X_OK)
    assert (dest / "a" / "x.py").read_text() == "print(1)"


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/abs.txt", "a\\..\\b"])
def test_unpack_refuses_unsafe_paths(tmp_path: Path, name: str) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr(name, "x")
    with pytest.raises(ShipwayError, match="unsafe path"):
        unpack_zip(bad, tmp_path / "dest")
    assert not (tmp_path / "evil.txt").exists()


def test_unpack_refuses_symlinks(tmp_path: Path) -> None:
    bad = tmp_path / "link.zip"
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ShipwayError, match="symlink"):
        unpack_zip(bad, tmp_path / "dest")
