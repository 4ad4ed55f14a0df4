"""`shipway export codepipeline --all` on a large monorepo: time per environment, and each
template against the limits AWS puts on it.

    .venv/bin/python bench/export.py [--services 50] [--environments 5]

Builds N services (with an HTTP API function each) and E aws environments, exports every
environment with the CLI as a user does, and prints per environment: the export's wall
time, the template's size (the 1 MB `TemplateBody` limit of CloudFormation; 51,200 bytes
is the limit of a body passed inline rather than through S3), its resources (limit 500),
and the Deploy role's managed policies (IAM: 6,144 characters each, 10 to a role).
Also at 10x the services, to show where the limits bite.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from monorepo import git, make_repo, serverless_yml

TEMPLATE_LIMIT = 1_000_000  # CloudFormation: a template body (from S3)
INLINE_LIMIT = 51_200  # CloudFormation: a template body sent with the call
RESOURCE_LIMIT = 500
POLICY_LIMIT = 6_144
POLICIES_PER_ROLE = 10


def shipway_yml(environments: int) -> str:
    blocks = "".join(
        f"  env{e}:\n    branch: release-{e}\n    target: {{aws: {{region: eu-west-1}}}}\n"
        + ("    approval: {before: deploy, timeout: 4h}\n" if e == environments - 1 else "")
        for e in range(environments)
    )
    return f"project: bench\nenvironments:\n{blocks}"


def measure(services: int, environments: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="shipway-bench-export-"))
    repo = make_repo(
        root,
        services,
        lambda n: {
            "serverless.yml": serverless_yml(n),
            "handler.py": "def hello(e, c):\n  return 1\n",
        },
        shipway_yml(environments),
    )
    git(repo, "branch", "main")
    out = root / "templates"
    shipway = Path(sys.executable).with_name("shipway")
    started = time.perf_counter()
    proc = subprocess.run(
        [str(shipway), "export", "codepipeline", "--all", "--out", str(out), "--repo", str(repo)],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    print(
        f"\n{services} services, {environments} environments: `export --all` {seconds:.2f} s "
        f"({seconds / environments * 1000:.0f} ms an environment, CLI start included)"
    )
    if proc.returncode != 0:
        print(f"  export refused (exit {proc.returncode}): {proc.stderr.strip()[:400]}")
        return
    for line in proc.stderr.splitlines():
        if line.startswith("note: `env0`"):
            print(f"  {line[:300]}")
    print(
        f"  {'template':<18} {'bytes':>9} {'of 1 MB':>8} {'inline?':>8} {'resources':>10} "
        f"{'deploy policies':>16} {'largest':>8}"
    )
    for path in sorted(out.glob("*.json")):
        template = json.loads(path.read_text())
        body = len(json.dumps(template, separators=(",", ":")))
        resources = template["Resources"]
        policies = [r for r in resources.values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
        largest = max(
            (
                len(json.dumps(p["Properties"]["PolicyDocument"], separators=(",", ":")))
                for p in policies
            ),
            default=0,
        )
        print(
            f"  {path.stem:<18} {body:>9,} {body / TEMPLATE_LIMIT:>7.1%} "
            f"{'yes' if body <= INLINE_LIMIT else 'no (S3)':>8} "
            f"{len(resources):>6}/{RESOURCE_LIMIT} "
            f"{len(policies):>10}/{POLICIES_PER_ROLE} {largest:>6}/{POLICY_LIMIT}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--environments", type=int, default=5)
    args = parser.parse_args()
    for services in (args.services, args.services * 10):
        measure(services, args.environments)


if __name__ == "__main__":
    main()
