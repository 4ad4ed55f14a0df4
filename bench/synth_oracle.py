"""Compare `shipway.synth.synthesize` with the Serverless Framework's `serverless package`.

    .venv/bin/python bench/synth_oracle.py [--oracle PATH] [SERVICE_DIR ...]

The oracle is `serverless@3.40.0` from npm (`npm install --prefix /tmp/sls-oracle
serverless@3.40.0`); its binary is found from --oracle, $SHIPWAY_SLS_ORACLE, or
/tmp/sls-oracle/node_modules/.bin/serverless. Without it the script says so and exits 0.
Per service it prints `match` or the differences: logical IDs only one side has, type
differences, and resources whose properties differ (the artifact's S3 key, which embeds the
packaging time, is ignored).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
DEFAULT_ORACLE = Path("/tmp/sls-oracle/node_modules/.bin/serverless")
#: where `run_oracle` leaves the paths of the zips the oracle wrote, in its template
LAYER_ZIPS = "x-shipway-oracle-zips"

#: every feature `shipway synth` supports, in one service (written into a scratch folder)
KITCHEN = """\
service: kitchen
frameworkVersion: "3"
provider:
  name: aws
  runtime: python3.11
  memorySize: 512
  timeout: 10
  logRetentionInDays: 14
  tags:
    team: ledger
  stackTags:
    cost: shared
  environment:
    TABLE: kitchen-table
    LIMIT: 5
  iam:
    role:
      statements:
        - Effect: Allow
          Action: [dynamodb:GetItem]
          Resource: "arn:aws:dynamodb:us-east-1:123456789012:table/kitchen"
      managedPolicies:
        - arn:aws:iam::aws:policy/ReadOnlyAccess
  httpApi:
    cors: true
  layers:
    - arn:aws:lambda:us-east-1:123456789012:layer:shared:3
package:
  patterns: ["!tests/**"]
functions:
  api-handler:
    handler: app.api
    tags:
      tier: web
    events:
      - http:
          path: users/{userId}/items
          method: get
          cors: true
      - http:
          path: users/{userId}/items
          method: post
          cors: true
      - http: GET /
      - http:
          path: admin/{proxy+}
          method: any
          private: true
  http_api:
    handler: app.http_api
    memorySize: 128
    environment:
      EXTRA: "1"
    events:
      - httpApi: GET /orders/{id}
      - httpApi:
          method: POST
          path: /orders
      - httpApi: "*"
  cron:
    handler: app.cron
    versionFunction: false
    events:
      - schedule: rate(5 minutes)
      - schedule:
          rate:
            - cron(0 12 * * ? *)
          enabled: false
          input:
            key: value
  worker:
    handler: app.worker
    timeout: 30
    events:
      - sqs:
          arn: arn:aws:sqs:us-east-1:123456789012:jobs
          batchSize: 5
      - sqs:
          arn:
            Fn::GetAtt: [ResultsQueue, Arn]
      - sns: kitchen-alerts
      - sns:
          arn: arn:aws:sns:us-east-1:123456789012:external-topic
      - stream:
          type: dynamodb
          arn:
            Fn::GetAtt: [Table, StreamArn]
          batchSize: 100
          startingPosition: LATEST
      - stream: arn:aws:kinesis:us-east-1:123456789012:stream/clicks
      - s3:
          bucket: kitchen-uploads-dev
          event: s3:ObjectCreated:*
          rules:
            - prefix: incoming/
resources:
  Resources:
    ResultsQueue:
      Type: AWS::SQS::Queue
    Table:
      Type: AWS::DynamoDB::Table
      Properties:
        BillingMode: PAY_PER_REQUEST
        AttributeDefinitions:
          - AttributeName: id
            AttributeType: S
        KeySchema:
          - AttributeName: id
            KeyType: HASH
        StreamSpecification:
          StreamViewType: NEW_IMAGE
    ServerlessDeploymentBucket:
      Properties:
        VersioningConfiguration:
          Status: Enabled
  Outputs:
    TableName:
      Value:
        Ref: Table
  Conditions:
    IsDev:
      Fn::Equals: [dev, dev]
"""

#: the environment the example services need (their `${env:}` values)
EXAMPLE_ENV = {
    "CURRENCY": "GBP",
    "SIGNING_KEY": "test-signing-key",
    "LEDGER_BANK": "Test Bank",
    "DAILY_LIMIT_PENCE": "100000",
}
#: the sibling stacks the examples read with `${cf:…}`, with their outputs: both sides are
#: answered these offline (oracle_offline.js reads them from SHIPWAY_ORACLE_STACKS)
EXAMPLE_STACKS = {"payments-dev": {"PaymentsTableName": "payments-dev-PaymentsTable-EXAMPLE"}}


def find_oracle(explicit: str | None = None) -> Path | None:
    for candidate in (explicit, os.environ.get("SHIPWAY_SLS_ORACLE"), str(DEFAULT_ORACLE)):
        if candidate and Path(candidate).is_file() and shutil.which("node"):
            return Path(candidate)
    return None


def default_services(scratch: Path) -> list[Path]:
    kitchen = scratch / "kitchen"
    kitchen.mkdir(parents=True, exist_ok=True)
    (kitchen / "serverless.yml").write_text(KITCHEN, encoding="utf-8")
    (kitchen / "app.py").write_text("def api(e, c):\n    return {}\n", encoding="utf-8")
    dirs = [kitchen]
    dirs += sorted(p for p in (ROOT / "examples/ledger/services").iterdir() if p.is_dir())
    # one service per feature family too big for the kitchen (e.g. every authorizer form)
    dirs += sorted(p for p in (ROOT / "bench/oracle_services").iterdir() if p.is_dir())
    examples = CORPUS / "serverless-examples"
    if examples.is_dir():
        dirs += sorted(p for p in examples.glob("aws-*") if (p / "serverless.yml").is_file())
    return dirs


def run_oracle(oracle: Path, service_dir: Path, scratch: Path) -> tuple[dict[str, Any], float]:
    """`serverless package` on a copy of `service_dir`; the template and the seconds taken."""
    work = Path(tempfile.mkdtemp(dir=scratch))
    copy = work / service_dir.name
    shutil.copytree(service_dir, copy, ignore=shutil.ignore_patterns(".serverless", "node_modules"))
    # plugins are not installed in the copy: the oracle runs the core Framework only
    config = copy / "serverless.yml"
    text = config.read_text(encoding="utf-8")
    if "\nplugins:" in text or text.startswith("plugins:"):
        lines, skip = [], False
        for line in text.splitlines():
            if line.startswith("plugins:"):
                skip = True
                continue
            if skip and (line.startswith((" ", "-", "\t")) or not line.strip()):
                continue
            skip = False
            lines.append(line)
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    home = work / "home"
    home.mkdir()
    env = {
        **os.environ,
        **EXAMPLE_ENV,
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_NOTIFICATIONS_MODE": "off",
        "SLS_DEPRECATION_DISABLE": "*",
        "SHIPWAY_ORACLE_STACKS": json.dumps(EXAMPLE_STACKS),
        # a service with `layers:` asks CloudFormation for the last layer hash: answered
        # offline as for a first deploy
        "NODE_OPTIONS": f"--require {ROOT / 'bench' / 'oracle_offline.js'}",
    }
    start = time.perf_counter()
    proc = subprocess.run(
        [str(oracle), "package", "--stage", "dev", "--region", "us-east-1"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.perf_counter() - start
    out = copy / ".serverless" / "cloudformation-template-update-stack.json"
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-6:]
        raise RuntimeError("serverless package failed: " + " | ".join(tail))
    template = json.loads(out.read_text(encoding="utf-8"))
    template[LAYER_ZIPS] = {p.stem: str(p) for p in sorted(out.parent.glob("*.zip"))}
    return template, seconds


def _layer_zips(oracle_template: dict[str, Any]) -> dict[str, Any]:
    """The layer zips the oracle wrote (`.serverless/<layer>.zip`), as synthesis takes them
    (their bytes are in the layer hash and the functions' version IDs)."""
    from shipway.archive import sha256_of
    from shipway.model import LayerArtifact

    zips = oracle_template.get(LAYER_ZIPS) or {}
    out: dict[str, Any] = {}
    for key, output in (oracle_template.get("Outputs") or {}).items():
        if key.endswith("LambdaLayerS3Key"):
            name = str(output["Value"]).rsplit("/", 1)[-1].removesuffix(".zip")
            if name in zips:
                path = Path(zips[name])
                out[name] = LayerArtifact(name, path, sha256_of(path), path.stat().st_size)
    return out


def oracle_inputs(oracle_template: dict[str, Any]) -> dict[str, Any]:
    """The deploy time and code hash the oracle used, so that IDs can match exactly."""
    kwargs: dict[str, Any] = {}
    for logical_id, resource in oracle_template.get("Resources", {}).items():
        if logical_id.startswith("ApiGatewayDeployment"):
            kwargs["timestamp_ms"] = int(logical_id[len("ApiGatewayDeployment") :])
        if resource.get("Type") == "AWS::Lambda::Version":
            kwargs["code_sha256"] = resource["Properties"]["CodeSha256"]
        if resource.get("Type") == "Custom::S3" and "ForceDeploy" in resource["Properties"]:
            kwargs["deploy_time_ms"] = resource["Properties"]["ForceDeploy"]  # its Date.now()
    layers = _layer_zips(oracle_template)
    if layers:
        kwargs["layer_artifacts"] = layers
        # the artifact folder is named by the packaging time, not the deploy's
        outputs = oracle_template["Outputs"]
        kwargs["layer_keys"] = {
            name: outputs[key]["Value"]
            for name in layers
            for key in outputs
            if key.endswith("LambdaLayerS3Key")
            and str(outputs[key]["Value"]).endswith(f"/{name}.zip")
        }
    return kwargs


def synthesize_dir(service_dir: Path, **kwargs: Any) -> dict[str, Any]:
    from shipway.config.serverless import load_service
    from shipway.config.variables import Absent, SourceCall
    from shipway.synth import synthesize

    def cf(call: SourceCall) -> Any:
        stack, _, output = (call.address or "").partition(".")
        found = EXAMPLE_STACKS.get(stack, {}).get(output)
        return Absent(f"no stack output {call.address}") if found is None else found

    definition = load_service(
        service_dir,
        f"{service_dir.name}/serverless.yml",
        stage="dev",
        env=EXAMPLE_ENV,
        params={},
        options={"region": "us-east-1"},
        sources={"cf": cf},
    )
    return synthesize(definition, source=f"{service_dir.name}/serverless.yml", **kwargs)


def _without_s3_key(resource: Any) -> Any:
    if isinstance(resource, dict) and resource.get("Type") == "AWS::Lambda::Function":
        resource = json.loads(json.dumps(resource))
        resource["Properties"]["Code"].pop("S3Key", None)
    return resource


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """The differences, one line each; empty when the templates match (but for Shipway's
    one deliberate difference: the runtime of the custom resources' functions)."""
    from shipway.synth.custom_resources import RUNTIME, handler_function_ids

    diffs: list[str] = []
    mine, other = ours.get("Resources", {}), copy.deepcopy(theirs.get("Resources", {}))
    for logical_id in handler_function_ids() & set(other):
        other[logical_id]["Properties"]["Runtime"] = RUNTIME
    for logical_id in sorted(set(other) - set(mine)):
        diffs.append(f"missing {logical_id} ({other[logical_id].get('Type')})")
    for logical_id in sorted(set(mine) - set(other)):
        diffs.append(f"extra {logical_id} ({mine[logical_id].get('Type')})")
    for logical_id in sorted(set(mine) & set(other)):
        a, b = mine[logical_id], other[logical_id]
        if a.get("Type") != b.get("Type"):
            diffs.append(f"type {logical_id}: {a.get('Type')} != {b.get('Type')}")
        elif _without_s3_key(a) != _without_s3_key(b):
            a, b = _without_s3_key(a), _without_s3_key(b)
            keys = sorted(
                k
                for k in set(a.get("Properties", {})) | set(b.get("Properties", {}))
                if a.get("Properties", {}).get(k) != b.get("Properties", {}).get(k)
            )
            other_keys = sorted(
                k for k in set(a) | set(b) if k != "Properties" and a.get(k) != b.get(k)
            )
            diffs.append(f"properties {logical_id}: {', '.join(keys + other_keys)}")
    for name in ("Outputs", "Conditions"):
        if ours.get(name, {}) != theirs.get(name, {}):
            a, b = ours.get(name, {}), theirs.get(name, {})
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            diffs.append(f"{name}: {', '.join(keys)}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle")
    parser.add_argument("services", nargs="*", type=Path)
    args = parser.parse_args(argv)
    oracle = find_oracle(args.oracle)
    if oracle is None:
        print("oracle not available (npm's serverless@3.40.0 and node): skipped")
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="shipway-oracle-"))
    try:
        services = args.services or default_services(scratch)
        matched = 0
        for service_dir in services:
            try:
                theirs, seconds = run_oracle(oracle, service_dir, scratch)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"{service_dir.name}: oracle failed: {exc}")
                continue
            try:
                start = time.perf_counter()
                ours = synthesize_dir(service_dir, **oracle_inputs(theirs))
                ours_s = time.perf_counter() - start
            except Exception as exc:
                print(f"{service_dir.name}: shipway failed: {exc}")
                continue
            diffs = compare(ours, theirs)
            n = len(theirs.get("Resources", {}))
            timing = f"shipway {ours_s * 1000:.1f} ms, serverless {seconds:.2f} s"
            if diffs:
                print(f"{service_dir.name}: {len(diffs)} difference(s) ({n} resources; {timing})")
                for line in diffs:
                    print(f"    {line}")
            else:
                matched += 1
                print(f"{service_dir.name}: match ({n} resources; {timing})")
        print(f"{matched} of {len(services)} services match the oracle")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
