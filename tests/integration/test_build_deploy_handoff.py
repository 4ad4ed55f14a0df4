"""`shipway build ENV --out DIR` and `shipway deploy ENV --from DIR`, as CodePipeline's two
projects use them: a build made on one machine (state directory) deploys on another and
records the release there; a folder `build` made and a `run` reuse each other's builds;
what does not match is refused, never rebuilt."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import commit_all, git
from tests.integration.cli import SHIPWAY


def shipway_at(home: Path, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with its state in `home`: another machine's, for the same repository."""
    env = {**os.environ, "SHIPWAY_HOME": str(home)}
    return subprocess.run(
        [SHIPWAY, *args, "--repo", str(repo)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_build_from_one_machine_deploys_on_another(ledger_repo: Path, tmp_path: Path) -> None:
    git(ledger_repo, "checkout", "-q", "dev")
    builder, deployer = tmp_path / "builder", tmp_path / "deployer"
    out = tmp_path / "out"
    built = _json(shipway_at(builder, ledger_repo, "build", "dev", "--out", str(out), "--json"))
    assert built["state"] == "succeeded" and built["release"] is None
    assert {j["stage"] for j in built["jobs"]} == {"source", "build"}
    manifest = json.loads((out / "build.json").read_text())
    head = git(ledger_repo, "rev-parse", "dev")
    assert manifest["commit"] == head and manifest["env"] == "dev"
    assert sorted(s["service"] for s in manifest["services"]) == [
        "accounts",
        "notifications",
        "payments",
    ]
    assert (out / "summary.txt").read_text().startswith(f"dev at {head[:12]}: built ")
    assert not (builder / "envs/dev/current").exists()  # nothing was deployed there

    deployed = _json(
        shipway_at(deployer, ledger_repo, "deploy", "dev", "--from", str(out), "--json")
    )
    assert deployed["state"] == "succeeded" and deployed["release"] == 1
    builds = {j["service"]: j for j in deployed["jobs"] if j["stage"] == "build"}
    assert all("(imported)" in str(j.get("reused_from")) for j in builds.values())
    # the release holds the very packages the builder made
    record = json.loads((deployer / "records/dev/1/record.json").read_text())
    shas = {s["name"]: s["artifact"]["sha256"] for s in record["services"]}
    assert shas == {s["service"]: s["sha256"] for s in manifest["services"]}
    invoked = shipway_at(deployer, ledger_repo, "invoke", "accounts.listAccounts", "--env", "dev")
    assert invoked.returncode == 0 and json.loads(invoked.stdout)["statusCode"] == 200


def test_a_run_and_a_build_folder_reuse_each_others_builds(
    ledger_repo: Path, tmp_path: Path
) -> None:
    git(ledger_repo, "checkout", "-q", "dev")
    home = tmp_path / "state"
    ran = _json(shipway_at(home, ledger_repo, "run", "dev", "--json"))
    assert ran["release"] == 1
    out = tmp_path / "out"
    built = _json(shipway_at(home, ledger_repo, "build", "dev", "--out", str(out), "--json"))
    reused = {j.get("reused_from") for j in built["jobs"] if j["stage"] == "build"}
    assert reused == {ran["id"]}  # nothing built again: the run's builds are the store's
    assert "built nothing" in (out / "summary.txt").read_text()
    again = _json(shipway_at(home, ledger_repo, "deploy", "dev", "--from", str(out), "--json"))
    assert again["state"] == "succeeded" and again["release"] is None  # already live


def test_what_does_not_match_the_folder_is_refused_and_never_rebuilt(
    ledger_repo: Path, tmp_path: Path
) -> None:
    git(ledger_repo, "checkout", "-q", "dev")
    out = tmp_path / "out"
    assert (
        shipway_at(tmp_path / "a", ledger_repo, "build", "dev", "--out", str(out)).returncode == 0
    )
    # another environment's builds
    wrong = shipway_at(tmp_path / "b", ledger_repo, "deploy", "qa", "--from", str(out))
    assert wrong.returncode == 2 and "are of environment `dev`, not `qa`" in wrong.stderr
    # a package changed after the build
    tampered = tmp_path / "tampered"
    subprocess.run(["cp", "-r", str(out), str(tampered)], check=True)
    with (tampered / "artifacts/accounts.zip").open("ab") as f:
        f.write(b"!")
    changed = shipway_at(tmp_path / "c", ledger_repo, "deploy", "dev", "--from", str(tampered))
    assert changed.returncode == 2 and "is not the file built (sha256 differs)" in changed.stderr
    # a manifest that names another commit, whose payments differs from what was built
    api = ledger_repo / "services/payments/src/payments/api.py"
    api.write_text(api.read_text() + "\n# v2\n")
    later = commit_all(ledger_repo, "payments v2")
    other = tmp_path / "other"
    subprocess.run(["cp", "-r", str(out), str(other)], check=True)
    manifest = json.loads((out / "build.json").read_text())
    (other / "build.json").write_text(json.dumps(dict(manifest, commit=later)))
    refused = shipway_at(tmp_path / "d", ledger_repo, "deploy", "dev", "--from", str(other))
    assert refused.returncode == 1, refused.stderr
    doc = _json(shipway_at(tmp_path / "d", ledger_repo, "runs", "dev", "--json"))
    assert doc[0]["state"] == "failed" and "build failed" in doc[0]["error"]
    log = shipway_at(tmp_path / "d", ledger_repo, "logs", doc[0]["id"], "--service", "payments")
    assert "holds no build of `payments` with these inputs" in log.stdout
    assert not (tmp_path / "d/envs/dev/current").exists()  # nothing deployed


def test_a_folder_that_is_not_a_build_is_refused(ledger_repo: Path, tmp_path: Path) -> None:
    git(ledger_repo, "checkout", "-q", "dev")
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = shipway_at(tmp_path / "s", ledger_repo, "deploy", "dev", "--from", str(empty))
    assert proc.returncode == 2 and "is not a build folder: no build.json" in proc.stderr
    (empty / "build.json").write_text('{"format": 1, "services": [{"file": "../../etc/x"}]}')
    proc = shipway_at(tmp_path / "s", ledger_repo, "deploy", "dev", "--from", str(empty))
    assert proc.returncode == 2 and "is not a build manifest" in proc.stderr
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    proc = shipway_at(tmp_path / "s", ledger_repo, "build", "dev", "--out", str(full))
    assert proc.returncode == 2 and "is not an empty folder" in proc.stderr


def test_the_exported_buildspecs_commands_build_and_deploy(
    ledger_repo: Path, tmp_path: Path
) -> None:
    """The commands of the CodeBuild projects the export writes, run as CodeBuild runs
    them (bash, in a clone of the commit, the Build action's folder handed to Deploy's
    `CODEBUILD_SRC_DIR_Build`): Shipway's install aside, they build and deploy."""
    import yaml

    from shipway.export.buildspec import build_buildspec, deploy_buildspec

    git(ledger_repo, "checkout", "-q", "dev")
    clone = tmp_path / "src"
    git(tmp_path, "clone", "-q", "--branch", "dev", str(ledger_repo), str(clone))
    env = {
        **os.environ,
        "PATH": f"{Path(SHIPWAY).parent}{os.pathsep}{os.environ['PATH']}",
        "SHIPWAY_ENV": "dev",
        "SHIPWAY_BRANCH": "dev",
        "SHIPWAY_HOME": str(tmp_path / "codebuild-state"),
    }

    def phases(spec: str, *names: str) -> str:
        doc = yaml.safe_load(spec)
        return "\n".join(c for n in names for c in doc["phases"][n]["commands"])

    build = subprocess.run(
        [
            "bash",
            "-e",
            "-c",
            phases(build_buildspec(), "pre_build", "build") + '\necho "$SHIPWAY_PLAN"',
        ],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    assert build.stdout.strip().splitlines()[-1].startswith("dev at ")  # what the approval shows
    output = clone / yaml.safe_load(build_buildspec())["artifacts"]["base-directory"]
    assert (output / "build.json").is_file()
    deployed = subprocess.run(
        ["bash", "-e", "-c", phases(deploy_buildspec(), "pre_build", "build")],
        cwd=clone,
        env={**env, "CODEBUILD_SRC_DIR_Build": str(output)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deployed.returncode == 0, deployed.stderr
    assert "release 1" in deployed.stdout


def test_a_hostile_manifest_is_exit_2_without_a_traceback(
    ledger_repo: Path, tmp_path: Path
) -> None:
    git(ledger_repo, "checkout", "-q", "dev")
    cases = {
        "deep": "[" * 100_000 + "]" * 100_000,
        "not json": "{nope",
        "not a mapping": "[1, 2]",
        "bad sha": json.dumps(
            {
                "format": 1,
                "env": "dev",
                "commit": "0" * 40,
                "services": [
                    {"service": "a", "key": "k", "file": "a.zip", "sha256": "x", "size": 1}
                ],
            }
        ),
    }
    for name, text in cases.items():
        folder = tmp_path / name.replace(" ", "-")
        folder.mkdir()
        (folder / "build.json").write_text(text)
        proc = shipway_at(tmp_path / "s", ledger_repo, "deploy", "dev", "--from", str(folder))
        assert proc.returncode == 2, (name, proc.stderr)
        assert "is not a build manifest" in proc.stderr and "Traceback" not in proc.stderr, name
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "build.json").symlink_to(tmp_path / "deep/build.json")
    proc = shipway_at(tmp_path / "s", ledger_repo, "deploy", "dev", "--from", str(linked))
    assert proc.returncode == 2 and "is not a build folder" in proc.stderr
