"""One named input per defect class the fuzzer found (issue 7), each through the real `shipway`
executable with the fuzzer's bounds (1 GiB of address space, 20 s): the answer is exit 2 with
an error naming the file (and line or key where there is one), never a traceback, a crash, a
hang, a value from outside the commit or a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipway.synth.naming import normalize_path
from tests.conftest import commit_all, git
from tests.fuzz import runner
from tests.fuzz.yamlmut import alias_bomb, doubling_chain, nested

SECRET = "secretcanary0123456789"
ESCAPE = "outsidecanary0123456789"
PASSWD = "root:x:0:0:"
ACCOUNTS = "services/accounts/serverless.yml"
NOTIFICATIONS = "services/notifications/serverless.yml"  # no service depends on it
BUILDSPEC = "services/payments/buildspec.yml"


def shipway(repo: Path, *args: str, env: dict[str, str] | None = None) -> runner.Result:
    out = repo.parent / "out"
    out.mkdir(exist_ok=True)
    home = repo.parent / "home"
    home.mkdir(exist_ok=True)
    child_env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
        "AWS_CONFIG_FILE": str(home / "none"),
        **runner.GIT_ENV,
        **(env or {}),
    }
    return runner.in_subprocess(list(args), repo, child_env, out)


def errors(result: runner.Result) -> list[str]:
    return [
        ln for ln in result.stderr.decode("utf-8", "replace").splitlines() if ln[:7] == "error: "
    ]


def assert_rejected(
    result: runner.Result, file: str, line: int | None = None, key: str | None = None
) -> None:
    err = result.stderr.decode("utf-8", "replace")
    assert not result.timed_out, f"no answer within {runner.TIMEOUT:.0f} s"
    assert result.signal is None, f"killed by signal {result.signal}: {err[-2000:]}"
    assert "Traceback" not in err, err[-3000:]
    assert result.code == 2, err[-3000:]
    lines = errors(result)
    at = f"error: {file}:{line}" if line is not None else f"error: {file}"
    assert any(ln.startswith(at) for ln in lines), lines
    if key is not None:
        assert any(ln.startswith(at) and f"`{key}" in ln for ln in lines), lines
    assert_nothing_leaked(result)


def assert_nothing_leaked(result: runner.Result) -> None:
    out = (result.stdout + result.stderr).decode("utf-8", "replace")
    assert SECRET not in out
    assert ESCAPE not in out
    assert PASSWD not in out


@pytest.fixture
def repo(ledger_repo: Path) -> Path:
    """The example with a secret in `.env` and canary files beside the repository."""
    with open(ledger_repo / ".env", "a") as f:
        f.write(f"API_KEY={SECRET}\n")
    outside = ledger_repo.parent / "outside"
    (outside / "service").mkdir(parents=True)
    (outside / "canary.txt").write_text(ESCAPE + "\n")
    (outside / "canary.yml").write_text(f"key: {ESCAPE}\n")
    (outside / "canary.env").write_text(f"LEAKED={ESCAPE}\n")
    (outside / "shipway.yml").write_text(
        f"project: outsider\nenvironments:\n  dev:\n    branch: dev\n    params:\n"
        f"      LOG_LEVEL: {ESCAPE}\n"
    )
    (outside / "service" / "serverless.yml").write_text(
        "service: outsider\nprovider:\n  name: aws\n  runtime: python3.13\n  environment:\n"
        f"    LEAK: {ESCAPE}\nfunctions:\n  f:\n    handler: handler.f\n"
    )
    commit(ledger_repo)
    return ledger_repo


def commit(repo: Path) -> None:
    commit_all(repo, "fuzz regression")
    git(repo, "branch", "-f", "dev", "HEAD")


def append(repo: Path, rel: str, text: str) -> int:
    """Append `text` to a file; the 1-based line where it starts."""
    path = repo / rel
    old = path.read_text()
    if not old.endswith("\n"):
        old += "\n"
    path.write_text(old + text)
    return old.count("\n") + 1


# --------------------------------------------------------------------------- YAML


NESTING_AT = {
    "shipway.yml": "fuzz_deep: {}\n",
    ACCOUNTS: "custom:\n  deep: {}\n",
    BUILDSPEC: "batch:\n  deep: {}\n",
}


@pytest.mark.parametrize("depth", [500, 100_000])
@pytest.mark.parametrize("file", sorted(NESTING_AT))
def test_deep_nesting_is_an_error_at_its_line(repo: Path, file: str, depth: int) -> None:
    text = NESTING_AT[file].format(nested(depth))
    start = append(repo, file, text)
    line = start + text.count("\n") - 1
    assert_rejected(shipway(repo, "validate"), file, line)


@pytest.mark.parametrize("tag", ["!!float nope", "!!int x", "!!timestamp nope", "!!bool maybe"])
def test_an_explicit_tag_with_a_bad_value_is_an_error_at_its_line(repo: Path, tag: str) -> None:
    path = repo / ACCOUNTS
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, ln in enumerate(lines) if ln.strip() == "timeout: 5")
    lines[at] = f"  timeout: {tag}\n"
    path.write_text("".join(lines))
    assert_rejected(shipway(repo, "validate"), ACCOUNTS, at + 1)


@pytest.mark.parametrize(
    "file, text", [(ACCOUNTS, "custom:\n  lol: {}\n"), (BUILDSPEC, "batch:\n  lol: {}\n")]
)
def test_an_alias_bomb_is_refused(repo: Path, file: str, text: str) -> None:
    append(repo, file, text.format(alias_bomb()))
    assert_rejected(shipway(repo, "validate"), file)


def test_a_doubling_chain_of_variables_is_refused(repo: Path) -> None:
    append(repo, ACCOUNTS, "custom:\n" + doubling_chain(40) + "\n  top: ${self:custom.d39}\n")
    assert_rejected(shipway(repo, "validate"), ACCOUNTS)
    assert_rejected(shipway(repo, "print", "accounts", "--env", "dev"), ACCOUNTS)


def test_a_file_variable_reading_dev_zero_is_refused(repo: Path) -> None:
    append(repo, ACCOUNTS, "custom:\n  zero: ${file(/dev/zero)}\n")
    assert_rejected(shipway(repo, "validate"), ACCOUNTS)


def test_a_nan_value_prints_as_strict_json_or_is_refused(repo: Path) -> None:
    append(repo, ACCOUNTS, "custom:\n  n: .nan\n  i: -.inf\n")
    result = shipway(repo, "print", "accounts", "--env", "dev", "--format", "json")
    if result.code == 2:
        assert_rejected(result, ACCOUNTS)
        return
    assert result.code == 0, result.stderr.decode()[-3000:]

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} is not JSON")

    json.loads(result.stdout, parse_constant=refuse)


def test_a_tag_list_is_refused_by_validate(repo: Path) -> None:
    text = (
        (repo / ACCOUNTS)
        .read_text()
        .replace("  region: eu-west-2\n", "  region: eu-west-2\n  tags: [a]\n")
    )
    (repo / ACCOUNTS).write_text(text)
    assert_rejected(shipway(repo, "validate"), ACCOUNTS, key="provider.tags")


def test_resources_that_are_not_a_mapping_are_refused(repo: Path) -> None:
    # found by the fuzzer: AttributeError ('str' object has no attribute 'values')
    append(repo, ACCOUNTS, "resources:\n  Resources: x\n")
    assert_rejected(shipway(repo, "validate"), ACCOUNTS)


@pytest.mark.parametrize(
    ("block", "key"),
    [
        ("  iam:\n    role:\n      statements: 1\n", "provider.iam.role.statements"),
        ("  iam:\n    role:\n      statements: [a]\n", "provider.iam.role.statements[0]"),
        ("  iamRoleStatements: {Effect: Allow}\n", "provider.iamRoleStatements"),
        # (a single ARN is a list of one, as the Framework's Ajv converts it: not refused)
        ("  iam:\n    role:\n      managedPolicies: {a: 1}\n", "provider.iam.role.managedPolicies"),
        ("  httpApi: 1\n", "provider.httpApi"),
        ("  httpApi: [{a: 1}]\n", "provider.httpApi"),
    ],
)
def test_settings_of_the_wrong_type_are_refused(repo: Path, block: str, key: str) -> None:
    # found by the fuzzer (7:28950: TypeError, 'int' object is not iterable, in validate)
    # and by a sweep of wrong-typed values over the corpus' key paths (provider.httpApi)
    text = (repo / ACCOUNTS).read_text()
    (repo / ACCOUNTS).write_text(
        text.replace("  region: eu-west-2\n", "  region: eu-west-2\n" + block)
    )
    assert_rejected(shipway(repo, "validate"), ACCOUNTS, key=key)


def test_a_memory_size_of_400_digits_is_refused_by_validate(repo: Path) -> None:
    # found by the fuzzer: Lambda takes 128 to 10,240 MB; validate passed it on
    text = (repo / ACCOUNTS).read_text().replace("memorySize: 256", f"memorySize: {'9' * 400}")
    (repo / ACCOUNTS).write_text(text)
    assert_rejected(shipway(repo, "validate"), ACCOUNTS, key="provider.memorySize")


def test_an_invalid_region_with_ssm_is_refused_before_any_aws_call(repo: Path) -> None:
    text = (repo / ACCOUNTS).read_text()
    text = text.replace("  region: eu-west-2\n", "  region: 'not a region!'\n")
    text = text.replace("    CURRENCY: ${env:CURRENCY}\n", "    CURRENCY: ${ssm:/fuzz/currency}\n")
    (repo / ACCOUNTS).write_text(text)
    result = shipway(repo, "validate")
    assert_rejected(result, ACCOUNTS)
    assert "InvalidRegion" not in result.stderr.decode()


# --------------------------------------------------------------------------- .env


def test_an_env_file_of_50000_lines_loads_within_the_timeout(repo: Path) -> None:
    # quadratic parsing took 4.3 s for 5,000 lines and over 60 s for 20,000
    (repo / ".env.dev").write_text("".join(f"K{i}=value{i}\n" for i in range(50_000)))
    result = shipway(repo, "validate")
    assert not result.timed_out, "50,000 .env lines did not load within the timeout"
    assert result.code == 0, result.stderr.decode()[-3000:]


def test_a_nul_byte_in_an_env_value_is_refused_by_validate(repo: Path) -> None:
    (repo / ".env.dev").write_bytes(b"LOG_LEVEL=debug\nBROKEN=a\x00b\n")
    assert_rejected(shipway(repo, "validate"), ".env.dev")


# --------------------------------------------------------------------------- names


def test_an_environment_name_of_300_characters_is_refused(repo: Path) -> None:
    append(repo, "shipway.yml", f"  {'e' * 300}:\n    branch: dev\n    target: local\n")
    assert_rejected(shipway(repo, "validate"), "shipway.yml")


def test_a_service_name_of_300_characters_is_refused(repo: Path) -> None:
    path = repo / NOTIFICATIONS
    path.write_text(path.read_text().replace("service: notifications", f"service: {'s' * 300}"))
    assert_rejected(shipway(repo, "validate"), NOTIFICATIONS)


def test_a_services_path_of_300_characters_is_refused(repo: Path) -> None:
    path = repo / "shipway.yml"
    path.write_text(path.read_text().replace("  - services/*  ", f"  - services/{'p' * 300}  "))
    assert_rejected(shipway(repo, "validate"), "shipway.yml")


def test_a_build_timeout_of_400_digits_is_refused_by_validate(repo: Path) -> None:
    path = repo / "shipway.yml"
    path.write_text(path.read_text().replace("timeout: 10m", f"timeout: {'9' * 400}"))
    assert_rejected(shipway(repo, "validate"), "shipway.yml", key="build.timeout")


def test_a_branch_with_revision_syntax_is_refused(repo: Path) -> None:
    path = repo / "shipway.yml"
    path.write_text(path.read_text().replace("branch: dev\n", "branch: dev^\n"))
    assert_rejected(shipway(repo, "validate"), "shipway.yml", key="environments.dev.branch")


def test_a_commit_range_is_refused_naming_the_option(repo: Path) -> None:
    result = shipway(repo, "run", "dev", "--commit", "main..dev")
    assert "Traceback" not in result.stderr.decode()
    assert result.code == 2
    lines = errors(result)
    assert lines and all("main..dev" in ln or "--commit" in ln for ln in lines), lines
    assert "fatal:" not in result.stderr.decode()


def test_shipway_home_that_is_a_file_is_refused(repo: Path) -> None:
    home = repo.parent / "outside" / "canary.txt"
    result = shipway(repo, "runs", env={"SHIPWAY_HOME": str(home)})
    assert "Traceback" not in result.stderr.decode()
    assert result.code == 2
    assert any("SHIPWAY_HOME" in ln for ln in errors(result)), errors(result)
    assert_nothing_leaked(result)


def test_deeply_nested_invoke_data_is_refused(repo: Path) -> None:
    result = shipway(repo, "invoke", "getAccount", "--env", "dev", "--data", nested(10_000))
    assert "Traceback" not in result.stderr.decode()
    assert result.code == 2
    assert any("--data" in ln for ln in errors(result)), errors(result)


# --------------------------------------------------------------------------- the commit


@pytest.mark.parametrize(
    "target", ["/etc/passwd", "../../../outside/canary.yml", "{outside}/canary.yml"]
)
def test_a_file_variable_leaving_the_commit_is_refused(repo: Path, target: str) -> None:
    target = target.format(outside=repo.parent / "outside")
    append(repo, ACCOUNTS, f"custom:\n  leak: ${{file({target})}}\n")
    assert_rejected(shipway(repo, "validate"), ACCOUNTS)
    assert_rejected(shipway(repo, "print", "accounts", "--env", "dev"), ACCOUNTS)
    assert_rejected(shipway(repo, "synth", "accounts", "--env", "dev"), ACCOUNTS)


def test_a_nul_byte_in_a_file_variable_path_is_refused(repo: Path) -> None:
    # found by the fuzzer: an environment named "a\0b" reaching ${file(./${sls:stage}.yml)}
    append(repo, ACCOUNTS, 'custom:\n  x: "${file(./a\\0b.yml)}"\n')
    assert_rejected(shipway(repo, "validate"), ACCOUNTS)


def test_a_secret_in_a_file_variable_name_stays_masked(repo: Path) -> None:
    append(repo, ACCOUNTS, "custom:\n  conf: ${file(${env:API_KEY}.yml)}\n")
    assert_rejected(shipway(repo, "validate"), ACCOUNTS)
    assert_rejected(shipway(repo, "print", "accounts", "--env", "dev"), ACCOUNTS)


@pytest.mark.parametrize(
    "link, target",
    [
        ("services/evil", "{outside}/service"),
        (".env", "/etc/passwd"),
        (".env.dev", "{outside}/canary.env"),
        ("shipway.yml", "{outside}/shipway.yml"),
        (ACCOUNTS, "{outside}/service/serverless.yml"),
    ],
)
def test_a_symlink_leaving_the_commit_is_refused(repo: Path, link: str, target: str) -> None:
    path = repo / link
    if path.exists():
        path.unlink()
    path.symlink_to(target.format(outside=repo.parent / "outside"))
    commit(repo)
    result = shipway(repo, "validate")
    # the error is at the link, or at the shipway.yml entry that found it, naming the link
    at_link = any(ln.startswith(f"error: {link}:") for ln in errors(result))
    assert_rejected(result, link if at_link else "shipway.yml")
    assert any(link in ln for ln in errors(result)), errors(result)
    result = shipway(repo, "print", "payments", "--env", "dev", "--format", "json")
    assert "Traceback" not in result.stderr.decode()
    assert_nothing_leaked(result)


@pytest.mark.parametrize("secret", ['q"Secret-Canary_0123\\q', "plain-secret-canary"])
def test_a_secret_in_an_http_path_stays_masked_in_the_logical_ids(repo: Path, secret: str) -> None:
    # fuzz case 8:80942: the path part became `ApiGatewayResourcePreDashq...`, in which the
    # secret's punctuation was dropped and its letters lowered, out of reach of exact masking
    with open(repo / ".env", "a") as f:
        f.write(f"PATH_KEY='{secret}'\n")
    text = (
        (repo / ACCOUNTS)
        .read_text()
        .replace("path: accounts/{id}", "path: pre-${env:PATH_KEY}-post")
    )
    (repo / ACCOUNTS).write_text(text)
    commit(repo)
    result = shipway(repo, "synth", "accounts", "--env", "prod")
    out = (result.stdout + result.stderr).decode()
    assert result.code == 0, out[-500:]
    leaked = normalize_path(f"pre-{secret}-post")[len("PreDash") : -len("Dashpost")]
    assert leaked and leaked not in out
    assert "ApiGatewayResourcePreDash***Dashpost" in out  # the template is there, masked


def test_a_secret_runtime_stays_masked_in_the_warnings(repo: Path) -> None:
    """Found by the fuzzer: the local runtime's warning about a runtime it cannot run
    quoted the resolved value, a secret (`validate` masked its errors, not its warnings)."""
    path = repo / ACCOUNTS
    path.write_text(path.read_text().replace("runtime: python3.13", "runtime: ${env:API_KEY}"))
    commit(repo)
    result = shipway(repo, "validate")
    err = result.stderr.decode("utf-8", "replace")
    assert "the local runtime cannot run ***" in err, err[-2000:]
    assert_nothing_leaked(result)
    assert_nothing_leaked(shipway(repo, "validate", "--json"))
