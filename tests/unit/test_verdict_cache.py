"""A service found clean is not synthesized again to be judged; a refused one always is."""

from __future__ import annotations

from pathlib import Path

from shipway.config.serverless import load_service
from shipway.model import ServiceDefinition
from shipway.pipeline.verdict_cache import SupportCache

CLEAN = """\
service: api
provider: {name: aws, runtime: python3.12}
functions:
  hello: {handler: handler.hello, events: [{http: GET hello}]}
"""
REFUSED = CLEAN + "plugins: [serverless-domain-manager]\n"


def definition(tmp_path: Path, text: str, stage: str = "dev") -> ServiceDefinition:
    folder = tmp_path / "api"
    folder.mkdir(exist_ok=True)
    (folder / "serverless.yml").write_text(text, encoding="utf-8")
    return load_service(folder, "api/serverless.yml", stage=stage, env={}, params={})


def markers(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_a_clean_service_is_remembered_once_per_document_and_stage(tmp_path: Path) -> None:
    cache = SupportCache(tmp_path / "verdicts")
    clean = definition(tmp_path, CLEAN)
    assert cache(clean, "api/serverless.yml") == []
    assert cache(clean, "api/serverless.yml") == []
    assert len(markers(tmp_path / "verdicts")) == 1
    # another stage or another document is judged anew
    assert cache(definition(tmp_path, CLEAN, stage="qa"), "api/serverless.yml") == []
    edited = CLEAN.replace("GET hello", "POST hello")
    assert cache(definition(tmp_path, edited), "api/serverless.yml") == []
    assert len(markers(tmp_path / "verdicts")) == 3


def test_a_refusal_is_never_remembered_and_is_said_every_time(tmp_path: Path) -> None:
    cache = SupportCache(tmp_path / "verdicts")
    refused = definition(tmp_path, REFUSED)
    for _ in range(2):
        (problem,) = cache(refused, "api/serverless.yml")
        assert "serverless-domain-manager" in str(problem)
    assert markers(tmp_path / "verdicts") == []


def test_a_marker_that_cannot_be_written_only_costs_time(tmp_path: Path) -> None:
    blocked = tmp_path / "verdicts"
    blocked.write_text("a file where the folder would be", encoding="utf-8")
    assert SupportCache(blocked)(definition(tmp_path, CLEAN), "api/serverless.yml") == []
