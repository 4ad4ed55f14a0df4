"""The repository states the fuzzer starts from: the bundled example and, where the shared
corpus is present, real serverless.yml, buildspec.yml and .env files (read from the corpus at
run time, never copied into the project)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ledger"
CORPUS = ROOT.parent / "shared" / "corpus"

MAX_BASE_FILE = 256 * 1024  # corpus files larger than this are not useful starting points


@dataclass(frozen=True)
class Canaries:
    """Tokens that must never appear in any output: a file outside the commit, a secret."""

    escape: str
    secret: str

    @classmethod
    def for_seed(cls, seed: int) -> Canaries:
        digest = hashlib.sha256(f"shipway-fuzz:{seed}".encode()).hexdigest()
        return cls(escape=f"outsidecanary{digest[:16]}", secret=f"secretcanary{digest[16:32]}")

    @property
    def secret_line(self) -> str:
        # a quote and a backslash in the value: masking must survive JSON encoding (`\q`: no
        # escape to `echo`, which would print another value than the one to mask)
        return f"API_KEY='q\"{self.secret}\\q'\n"


@dataclass(frozen=True)
class Base:
    """A repository's files (path -> bytes), with the services and environments in it."""

    name: str
    files: dict[str, bytes]
    services: tuple[tuple[str, str], ...]  # (service name, folder)
    envs: tuple[str, ...] = ("dev", "qa", "prod")
    tags: frozenset[str] = field(default_factory=frozenset)

    def yaml_files(self) -> list[str]:
        return sorted(p for p in self.files if p.endswith((".yml", ".yaml")))

    def env_files(self) -> list[str]:
        return sorted(p for p in self.files if Path(p).name.startswith(".env"))


def _read_tree(folder: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and ".shipway" not in rel and "__pycache__" not in rel:
            out[rel] = path.read_bytes()
    return out


def example_base(canaries: Canaries) -> Base:
    files = _read_tree(EXAMPLE)
    files[".env"] = files[".env"] + canaries.secret_line.encode()
    services = (
        ("accounts", "services/accounts"),
        ("notifications", "services/notifications"),
        ("payments", "services/payments"),
    )
    return Base("example", files, services, tags=frozenset({"example"}))


SHIPWAY_ONE = """project: fuzz
services:
  - services/*
environments:
  dev:
    branch: dev
    target: local
  qa:
    branch: qa
    target: local
"""


def _one_service(name: str, files: dict[str, bytes], canaries: Canaries, tag: str) -> Base:
    all_files = {
        "shipway.yml": SHIPWAY_ONE.encode(),
        ".env": b"LOG_LEVEL=info\n" + canaries.secret_line.encode(),
        ".env.dev": b"STAGE_NOTE=dev\n",
        **{f"services/svc/{k}": v for k, v in files.items()},
    }
    return Base(name, all_files, (("svc", "services/svc"),), ("dev", "qa"), frozenset({tag}))


def corpus_bases(canaries: Canaries, example: Base) -> list[Base]:
    """One base per corpus input; empty when the corpus is absent."""
    if not (CORPUS / "INDEX.md").is_file():
        return []
    bases: list[Base] = []
    for config in sorted(CORPUS.rglob("serverless.yml")):
        rel = config.relative_to(CORPUS).as_posix()
        if "resolved-" in config.name or config.stat().st_size > MAX_BASE_FILE:
            continue
        siblings = {
            p.name: p.read_bytes()
            for p in sorted(config.parent.iterdir())
            if p.is_file() and p.stat().st_size <= MAX_BASE_FILE
        }
        bases.append(_one_service(f"corpus:{rel}", siblings, canaries, "corpus-serverless"))
    for spec in sorted((CORPUS / "buildspecs").glob("*.yml")):
        files = dict(example.files)
        files["services/payments/buildspec.yml"] = spec.read_bytes()
        rel = spec.relative_to(CORPUS).as_posix()
        bases.append(
            Base(f"corpus:{rel}", files, example.services, tags=frozenset({"corpus-buildspec"}))
        )
    for env in sorted((CORPUS / "dotenv").rglob(".env*")):
        if not env.is_file() or env.stat().st_size > MAX_BASE_FILE:
            continue
        files = dict(example.files)
        files[".env.dev"] = env.read_bytes()
        rel = env.relative_to(CORPUS).as_posix()
        bases.append(Base(f"corpus:{rel}", files, example.services, tags=frozenset({"corpus-env"})))
    return bases


def all_bases(seed: int) -> tuple[Canaries, list[Base]]:
    canaries = Canaries.for_seed(seed)
    example = example_base(canaries)
    return canaries, [example, *corpus_bases(canaries, example)]
