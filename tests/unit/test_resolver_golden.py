"""The Framework's own resolver fixtures (v3-compatible cases) through our resolver and the
`shipway print` renderer: each case is resolved, printed as YAML and JSON, and the printed
text read back must equal the Framework's `resolved-serverless.yml`."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from shipway.config.printing import render_config
from shipway.config.variables import Absent, Resolver, SourceCall, plain
from shipway.config.yamlsrc import load_yaml
from shipway.errors import ShipwayError
from tests.conftest import CORPUS as SHARED_CORPUS

CORPUS = SHARED_CORPUS / "resolver-fixtures"
FIXTURES = CORPUS / "serverless__serverless/packages/sf-core/tests/resolvers"
FLOOR = 22  # of 25: the 3 left need JavaScript `${file(x.cjs)}` (not supported, and the
# corpus copy lacks their .cjs files: see CASES.json notes)

# Stubbed AWS answers, as the Framework's own tests stub them (see CASES.json notes).
_SSM = {
    "/resolvers/sample-param": "ssm-value",
    "/resolvers/sample-json-param": ("secure", '{"foo": "bar"}'),
    "/resolvers/sample-list-param": ("list", "foo,bar"),
    "/resolvers/sample-secure-param": ("secure", "ssm-value"),
}
_SSM_ENCRYPTED = {
    "/resolvers/sample-secure-param": "AQICAHi+/eOFEtb8TxOR1ScFmM5nSuMq78yCdJJZc6iCT/NUMgGAclYU"
    "OvV1utdqWcUJX+1ZAAAAZzBlBgkqhkiG9w0BBwagWDBWAgEAMFEGCSqGSIb3DQEHATAeBglghkgBZQMEAS4wEQQM"
    "JzWih1j5PohkwpedAgEQgCTFZL8UNiHYH2lBOiEdWllXWr9G1cu9ZIqySzzoCXArdZi8wrI=",
    "/resolvers/sample-secure-param-eu-west-1": "AQICAHjujOOONQeTpv8ULqE+vrnJ8H26JTLwnomqB8K"
    "MXzHVigENc5haFewpPcwz3Lp+NiPpAAAAZzBlBgkqhkiG9w0BBwagWDBWAgEAMFEGCSqGSIb3DQEHATAeBglghkgB"
    "ZQMEAS4wEQQMzDJC+1WzXBe8TwBQAgEQgCSYRKU6ZUhEVuJh5myr1F8F/b6FJNXay1D64RfHKYIB+9nGPOw=",
}
_CF = {
    "sfc-nodejs-resolvers-integration-test.ServerlessDeploymentBucketName": {
        "us-east-1": "sfc-nodejs-resolvers-inte-serverlessdeploymentbuck-6vskiu5gzt1u",
        "eu-west-1": "sfc-nodejs-resolvers-inte-serverlessdeploymentbuck-vky0nzemsvvr",
    },
    "sfc-nodejs-resolvers-integration-test.Function1LambdaFunctionQualifiedArn": {
        "us-east-1": "arn:aws:lambda:us-east-1:762003938904:function:"
        "sfc-nodejs-resolvers-integration-test-function1:1",
    },
}
_S3 = {"resolvers-integration-test/test.txt": "file content"}


def _ssm(call: SourceCall) -> Any:
    raw = "raw" in call.params
    if "noDecrypt" in call.params:
        return _SSM_ENCRYPTED.get(call.address or "")
    found = _SSM.get(call.address or "")
    if found is None or isinstance(found, str):
        return found
    kind, value = found
    if raw:
        return value
    if kind == "list":
        return value.split(",")
    try:
        return json.loads(value)
    except ValueError:
        return value


def _cf(call: SourceCall) -> Any:
    region = call.params[0] if call.params else "us-east-1"
    return _CF.get(call.address or "", {}).get(region) or Absent("no such output")


def _s3(call: SourceCall) -> Any:
    return _S3.get(call.address or "")


STUBS = {"ssm": _ssm, "cf": _cf, "s3": _s3}


def _cases() -> list[dict[str, Any]]:
    cases = json.loads((CORPUS / "CASES.json").read_text())
    return [c for c in cases if c["family"] == "v3" and not c["skipped"]]


def run_case(case: dict[str, Any]) -> str | None:
    """None when the case matches, else why not."""
    folder = FIXTURES / case["dir"]
    doc = load_yaml(folder / "serverless.yml", "serverless.yml")
    env = {k: v for k, v in case["env"].items() if v is not None}
    resolver = Resolver(
        doc,
        display="serverless.yml",
        service_dir=folder,
        options=case["options"],
        env=env,
        sources=STUBS,
        instance_id="1704067200000",
    )
    try:
        got = resolver.resolve()
    except ShipwayError as exc:
        if case["expect"] == "error":
            return None
        return f"error: {exc}"
    if case["expect"] == "error":
        return "resolved, but an error was expected"
    want = plain(load_yaml(folder / "resolved-serverless.yml"))
    if got != want:
        return f"mismatch:\n  got  {got}\n  want {want}"
    printed_yaml = yaml.safe_load(render_config(got, "yaml"))
    if printed_yaml != want:
        return f"printed YAML differs:\n  got  {printed_yaml}\n  want {want}"
    printed_json = json.loads(render_config(got, "json"))
    if printed_json != want:
        return f"printed JSON differs:\n  got  {printed_json}\n  want {want}"
    return None


@pytest.mark.skipif(not (CORPUS / "CASES.json").is_file(), reason="resolver corpus absent")
def test_golden_fixtures() -> None:
    cases = _cases()
    failures = {}
    for case in cases:
        why = run_case(case)
        if why:
            failures[case["dir"]] = why
    passed = len(cases) - len(failures)
    print(f"\nresolver golden fixtures: {passed} of {len(cases)} v3-compatible cases match")
    for name, why in failures.items():
        print(f"  FAIL {name}: {why}")
    assert passed >= FLOOR


@pytest.mark.skipif(not (CORPUS / "CASES.json").is_file(), reason="resolver corpus absent")
def test_golden_cycle_case_names_the_key() -> None:
    folder = FIXTURES / "validate/cycle"
    doc = load_yaml(folder / "serverless.yml", "serverless.yml")
    with pytest.raises(ShipwayError) as info:
        Resolver(doc, display="serverless.yml", service_dir=folder).resolve()
    text = str(info.value)
    assert "circular reference" in text
    assert "serverless.yml:5: `custom.name1`" in text
