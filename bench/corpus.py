"""The public monorepos of the corpus as a new user meets them: per repository, how many
services synthesize clean (with stub values for AWS look-ups), validate clean (`shipway
validate` in every environment `shipway init` wrote) and deploy to the local target (`shipway
run dev`); and of the deployed services' functions, invoked once each (`shipway invoke
S.F --data {}` while `shipway serve` runs, with no AWS credentials on the machine), how
many answer without boto3's `Unable to locate credentials` (what every function touching
AWS answered before the local AWS emulator).

    python bench/corpus.py [--corpus ../shared/corpus] [--only NAME] [--verbose]

Each repository is copied into a fresh git repository (the corpus's own index files left
out), `shipway init` writes its shipway.yml, then `validate` and `run dev` run as a user runs
them. Exits 0 when the corpus is absent (nothing to measure). Prints one row per repository
and the totals; `--verbose` adds the first problem of every service that is not clean.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHIPWAY = [sys.executable, "-m", "shipway.cli.main"]
INDEX_FILES = {"ALL_FILES.txt", "COPIED_FILES.txt", "SOURCE.txt"}
SKIPPED_DIRS = {"node_modules", ".serverless", ".git"}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "corpus",
    "GIT_AUTHOR_EMAIL": "corpus@example.com",
    "GIT_COMMITTER_NAME": "corpus",
    "GIT_COMMITTER_EMAIL": "corpus@example.com",
}
_ERROR = re.compile(r"^error: (?P<file>[^:\s]+):")


@dataclass
class RepoResult:
    name: str
    services: list[str]  # service folders, relative to the repository root
    synth_clean: set[str] = field(default_factory=set)
    validate_clean: set[str] = field(default_factory=set)
    run_clean: set[str] = field(default_factory=set)
    problems: dict[str, str] = field(default_factory=dict)  # service -> first problem
    seconds: float = 0.0
    invoked: int = 0  # functions of deployed services, invoked once each
    answered: int = 0  # of them, answering with a result (exit 0)
    no_credentials: int = 0  # of them, answering `Unable to locate credentials`


def service_folders(repo: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        if "serverless.yml" in filenames or "serverless.yaml" in filenames:
            found.append(Path(dirpath).relative_to(repo).as_posix())
    return found


def owner(folders: list[str], file: str) -> str | None:
    """The service folder a reported file belongs to (the longest prefix)."""
    best = None
    for folder in folders:
        prefix = "" if folder == "." else folder + "/"
        if file.startswith(prefix) and (best is None or len(folder) > len(best)):
            best = folder
    return best


def synth_clean(
    repo: Path,
    folders: list[str],
    result: RepoResult,
    config_files: dict[str, str] | None = None,
) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from shipway.config.serverless import load_service
    from shipway.errors import ShipwayError
    from shipway.synth import synthesize
    from shipway.synth.lint import lint

    def stub(call: Any) -> str:
        return f"stub-{call.type}-{call.address}"

    stubs = {name: stub for name in ("ssm", "cf", "s3", "aws")}
    for folder in folders:
        path = repo / folder
        config = (config_files or {}).get(folder) or (
            "serverless.yml" if (path / "serverless.yml").is_file() else "serverless.yaml"
        )
        display = f"{folder}/{config}"
        try:
            definition = load_service(
                path,
                display,
                stage="dev",
                env={},
                params={},
                sources=stubs,
                config_file=config,
            )
            template = synthesize(definition, source=display)
        except ShipwayError as exc:
            result.problems.setdefault(folder, f"synth: {exc}")
            continue
        problems = lint(template, errors_only=True, ignore=("E2533",))
        if problems:
            result.problems.setdefault(folder, f"lint: {problems[0]}")
        else:
            result.synth_clean.add(folder)


def _env(repo: Path) -> dict[str, str]:
    """A new user's machine: no AWS account (nor a metadata service to wait for)."""
    env = {**os.environ, **GIT_ENV, "SHIPWAY_HOME": str(repo.parent / "state")}
    for name in ("SHIPWAY_SERVER", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name, None)
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_ENDPOINT_URL", None)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def shipway(repo: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = _env(repo)
    return subprocess.run(
        [*SHIPWAY, *args, "--repo", str(repo)] if args[0] != "init" else [*SHIPWAY, *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def measure(source: Path, verbose: bool) -> RepoResult:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shipway-corpus-") as tmp:
        repo = Path(tmp) / source.name
        shutil.copytree(source, repo, ignore=lambda d, names: INDEX_FILES & set(names))
        folders = service_folders(repo)
        result = RepoResult(source.name, folders)
        if not folders and not any(repo.glob("serverless-compose.*")):
            return result
        synth_clean(repo, folders, result)
        git = {**os.environ, **GIT_ENV}
        subprocess.run(["git", "init", "-q", "-b", "dev", str(repo)], check=True, env=git)
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=git)
        subprocess.run(["git", "-C", str(repo), "commit", "-qm", "corpus"], check=True, env=git)
        init = shipway(repo, "init")
        project_services = _project_services(repo)
        if project_services:
            folders = sorted(project_services)
            result.services = folders
            result.synth_clean.clear()
            result.problems.clear()
            synth_clean(repo, folders, result, project_services)
        if init.returncode != 0:
            for folder in folders:
                result.problems.setdefault(folder, f"init: {init.stderr.strip()[:300]}")
            result.seconds = time.perf_counter() - started
            return result
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=git)
        subprocess.run(
            ["git", "-C", str(repo), "commit", "-qm", "shipway init"], check=True, env=git
        )
        validate = shipway(repo, "validate")
        failed: dict[str, str] = {}
        unowned = []
        for line in (validate.stdout + validate.stderr).splitlines():
            match = _ERROR.match(line)
            if not match:
                continue
            service = owner(folders, match["file"])
            if service is None:
                unowned.append(line)
            else:
                failed.setdefault(service, line)
        if validate.returncode == 0 or not unowned:
            result.validate_clean = {f for f in folders if f not in failed}
        for folder, line in failed.items():
            result.problems.setdefault(folder, f"validate: {line[:300]}")
        if unowned:
            for folder in folders:
                result.problems.setdefault(folder, f"validate: {unowned[0][:300]}")
        names = _service_names(repo)
        _stand_in_handlers(repo, folders, project_services)
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=git)
        subprocess.run(
            ["git", "-C", str(repo), "commit", "-qm", "stand-in handlers", "--allow-empty"],
            check=True,
            env=git,
        )
        run = shipway(repo, "run", "dev", "--json")
        deployed = _deployed(run.stdout)
        result.run_clean = {f for f in folders if names.get(f) in deployed}
        if run.returncode != 0:
            tail = (run.stderr.strip().splitlines() or ["?"])[-1]
            for folder in folders:
                if folder not in result.run_clean:
                    result.problems.setdefault(folder, f"run: {tail[:300]}")
        if deployed:
            call_functions(repo, sorted(deployed), result, verbose)
        result.seconds = time.perf_counter() - started
        return result


NO_CREDENTIALS = "Unable to locate credentials"
#: boto3's words, and the AWS SDK for JavaScript v3's
NO_CREDENTIALS_SAID = (NO_CREDENTIALS, "Could not load credentials from any providers")


def call_functions(
    repo: Path, services: list[str], result: RepoResult, verbose: bool = False
) -> None:
    """Every function of `services` invoked once while the server (and its AWS emulator,
    where the version has one) runs."""
    env = _env(repo)
    server_file = repo.parent / "state" / "server.json"
    server = subprocess.Popen(
        [*SHIPWAY, "serve", "--port", "0", "--repo", str(repo)],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not server_file.exists() and server.poll() is None:
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
        for service in services:
            printed = shipway(repo, "print", service, "--env", "dev", "--format", "json")
            try:
                functions = json.loads(printed.stdout).get("functions") or {}
            except ValueError:
                continue
            for fn in functions if isinstance(functions, dict) else []:
                result.invoked += 1
                try:
                    called = shipway(
                        repo,
                        "invoke",
                        f"{service}.{fn}",
                        "--env",
                        "dev",
                        "--data",
                        "{}",
                        timeout=120,
                    )
                except subprocess.TimeoutExpired:
                    continue
                said = called.stdout + called.stderr
                result.answered += called.returncode == 0
                result.no_credentials += any(m in said for m in NO_CREDENTIALS_SAID)
                if verbose:
                    answer = " ".join(said.split())[:160]
                    print(f"    invoke {service}.{fn}: exit {called.returncode}: {answer}")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def _deployed(stdout: str) -> set[str]:
    """Service names the run deployed (or kept unchanged) on the local target."""
    try:
        document = json.loads(stdout)
    except ValueError:
        return set()
    if not isinstance(document, dict) or document.get("state") != "succeeded":
        return set()
    jobs = document.get("jobs") or []
    return {
        j.get("service")
        for j in jobs
        if isinstance(j, dict) and j.get("stage") == "deploy" and j.get("state") == "succeeded"
    }


def _project(repo: Path) -> dict[str, tuple[str, str]]:
    """Service folder -> (its name, its config file), as the project (shipway.yml, Compose)
    lists them; empty when the project does not load."""
    from shipway.config.project import load_project
    from shipway.errors import ShipwayError

    try:
        project = load_project(repo)
    except ShipwayError:
        return {}
    return {s.path or ".": (s.name, s.config_file) for s in project.services}


def _project_services(repo: Path) -> dict[str, str]:
    return {folder: config for folder, (_, config) in _project(repo).items()}


def _service_names(repo: Path) -> dict[str, str]:
    return {folder: name for folder, (name, _) in _project(repo).items()}


# A stand-in for a handler the corpus does not hold (it keeps configuration only). Where the
# function's configuration wires AWS resources into its environment (`Ref`, `Fn::GetAtt`,
# `${param:}`, `${cf:}`, `${ssm:}` …), it uses them as its handler would — a queue URL gets
# a message, a table ARN is described, anything else is an STS call — so what it answers
# says whether the function reaches AWS (or the local emulator) at all.
_PYTHON = """
def {fn}(event, context):
    import json, os, boto3
    used = []
    for name in {names!r}:
        value = os.environ.get(name, "")
        if value.startswith("http") and "/" in value.split("//", 1)[-1]:
            boto3.client("sqs").send_message(QueueUrl=value, MessageBody="{{}}")
        elif value.startswith("arn:aws:dynamodb:") and ":table/" in value:
            boto3.client("dynamodb").describe_table(TableName=value.split(":table/")[1])
        elif value.startswith("arn:aws:sqs:"):
            boto3.client("sqs").get_queue_url(QueueName=value.rsplit(":", 1)[1])
        else:
            boto3.client("sts").get_caller_identity()
        used.append(name)
    return {{"statusCode": 200, "body": json.dumps(used)}}
"""
_NODE = """
exports.{fn} = async () => {{
  const names = {names_json};
  if (names.length && {sts_client_json}) {{
    const {{ STSClient, GetCallerIdentityCommand }} = require({sts_client_json});
    await new STSClient({{}}).send(new GetCallerIdentityCommand({{}}));
  }}
  return {{ statusCode: 200, body: JSON.stringify(names) }};
}};
"""
#: the AWS SDK v3's STS client, where the Framework oracle installed it (Lambda's Node.js
#: runtimes provide the SDK; the local runtime does not, so the stand-in brings its own)
_STS_CLIENT = Path(os.environ.get("SHIPWAY_SLS_ORACLE", "/nonexistent")).parent.parent / (
    "@aws-sdk/client-sts"
)


def _wired(spec: dict[str, Any], provider: dict[str, Any]) -> list[str]:
    """The function's environment variables whose values come from AWS resources."""
    env: dict[str, Any] = {}
    for source in (provider.get("environment"), spec.get("environment")):
        if isinstance(source, dict):
            env.update(source)

    def from_aws(value: Any) -> bool:
        if isinstance(value, dict):
            return True  # Ref, Fn::GetAtt, Fn::ImportValue, Fn::Sub …
        return isinstance(value, str) and any(
            f"${{{kind}:" in value for kind in ("param", "cf", "ssm")
        )

    return sorted(k for k, v in env.items() if isinstance(k, str) and from_aws(v))


def _stand_in_handlers(repo: Path, folders: list[str], config_files: dict[str, str]) -> None:
    """A trivial handler for every function whose handler file the corpus does not hold."""
    import yaml

    for folder in folders:
        base = repo / folder
        config = base / config_files.get(folder, "serverless.yml")
        if not config.is_file():
            config = base / "serverless.yaml"
        try:
            doc = yaml.safe_load(config.read_text())
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(doc, dict):
            continue
        provider = doc.get("provider") if isinstance(doc.get("provider"), dict) else {}
        functions = doc.get("functions")
        if not isinstance(functions, dict):
            continue
        for spec in functions.values():
            if not isinstance(spec, dict) or not isinstance(spec.get("handler"), str):
                continue
            handler = spec["handler"]
            if "${" in handler or "." not in handler:
                continue
            module, _, fn = handler.rpartition(".")
            runtime = str(spec.get("runtime") or provider.get("runtime") or "nodejs")
            node = runtime.startswith("nodejs")
            candidates = [".js", ".mjs", ".cjs", ".ts"] if node else [".py"]
            if any((base / f"{module}{ext}").is_file() for ext in candidates):
                continue
            target = base / f"{module}{'.js' if node else '.py'}"
            names = _wired(spec, provider)
            sts = json.dumps(str(_STS_CLIENT)) if _STS_CLIENT.is_dir() else "null"
            text = (
                _NODE.format(fn=fn, names_json=json.dumps(names), sts_client_json=sts)
                if node
                else _PYTHON.format(fn=fn, names=names)
            )
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("a") as out:
                    out.write(text)
            except OSError:
                continue


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--only", help="measure only repositories whose name contains this")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    monorepos = args.corpus / "monorepos"
    if not monorepos.is_dir():
        print(f"corpus absent ({monorepos}): nothing to measure")
        return 0
    rows = []
    for source in sorted(p for p in monorepos.iterdir() if p.is_dir()):
        if args.only and args.only not in source.name:
            continue
        result = measure(source, args.verbose)
        rows.append(result)
        n = len(result.services)
        print(
            f"{result.name:<78} services {n:>2}  synth {len(result.synth_clean):>2}  "
            f"validate {len(result.validate_clean):>2}  run {len(result.run_clean):>2}  "
            f"functions {result.invoked:>2} answered {result.answered:>2} "
            f"no-credentials {result.no_credentials:>2}  ({result.seconds:.1f} s)",
            flush=True,
        )
        if args.verbose:
            for folder in result.services:
                if folder in result.problems:
                    first = result.problems[folder].splitlines()[0]
                    print(f"    {folder}: {first}")
    total = sum(len(r.services) for r in rows)
    whole = sum(1 for r in rows if r.services and len(r.validate_clean) == len(r.services))
    print(
        f"\ntotal: {len(rows)} repositories, {total} services: "
        f"{sum(len(r.synth_clean) for r in rows)} synthesize clean, "
        f"{sum(len(r.validate_clean) for r in rows)} validate clean, "
        f"{sum(len(r.run_clean) for r in rows)} deploy to the local target; "
        f"repositories validating clean: {whole}"
    )
    invoked = sum(r.invoked for r in rows)
    print(
        f"functions of the deployed services: {invoked} invoked, "
        f"{sum(r.answered for r in rows)} answered, "
        f"{invoked - sum(r.no_credentials for r in rows)} without `{NO_CREDENTIALS}` "
        f"({sum(r.no_credentials for r in rows)} with it)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
