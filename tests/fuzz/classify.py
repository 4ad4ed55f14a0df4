"""What one command's result says: `ok` (exit 0), `rejected` (exit 2, every error naming a
file or the argument at fault), or a defect with a class name (`traceback:RecursionError`,
`crash:SIGSEGV`, `timeout`, `memory`, `unlocated`, `escape`, `secret-leak`, `accepted` …)."""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass

from tests.fuzz.runner import Result

OK = "ok"
REJECTED = "rejected"
FAILED = "failed"  # exit 1 from `run`: the user's build said no
DEFECT = "defect"
SAME = "same-as-real-process"  # a command also run as a real `shipway` process agreed

_ERROR_LINE = re.compile(r"^error: (?P<file>[^:\s`][^:]*?)(?::(?P<line>\d+))?: ")
_EXC_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\b)")
_AT_BRANCH = re.compile(r" \(at [^\s()]+\)$")
PASSWD = b"root:x:0:0:"
_FILE_SUFFIXES = (".yml", ".yaml", ".env", ".json", ".txt", ".py")


@dataclass(frozen=True)
class Verdict:
    outcome: str  # OK | REJECTED | FAILED | DEFECT
    defect: str = ""  # the defect class
    detail: str = ""  # the line that shows it

    @property
    def key(self) -> str:
        return self.defect or self.outcome


def _names_file(path: str) -> bool:
    """`shipway.yml`, `services/a/.env.dev`, `services/evil` (a folder): a path, not prose;
    `shipway.yml (at main)` is the file as the control branch has it."""
    path = _AT_BRANCH.sub("", path)
    name = path.rsplit("/", 1)[-1]
    if any(c.isspace() for c in path) or "`" in path:
        return False
    return "/" in path or name.startswith(".env") or name.endswith(_FILE_SUFFIXES)


def _located(line: str, argv: tuple[str, ...], repo: str) -> bool:
    """An error line names a file of the repository, or the command-line value at fault."""
    m = _ERROR_LINE.match(line)
    if m and _names_file(m.group("file")):
        path = m.group("file")
        return not path.startswith("/") or path.startswith(repo)
    values = [a for a in argv[1:] if not a.startswith("--")]
    for value in values:
        if f"`{value[:60]}" in line and (value or "``" in line):
            return True
    return any(opt in line for opt in ("--commit", "--data", "--env", "SHIPWAY_HOME"))


def _traceback_type(text: str) -> str:
    tail = text[text.rfind("Traceback (most recent call last)") :]
    found = ""
    for line in tail.splitlines():
        m = _EXC_LINE.match(line)
        if m:
            found = m.group("type").rsplit(".", 1)[-1]
    return found or "unknown"


def classify(
    result: Result, repo: str, forbidden: dict[str, bytes], must_reject: list[str]
) -> Verdict:
    """`forbidden`: defect class -> bytes that must appear in no output (canaries);
    `must_reject`: the case's mutations that `validate` must refuse."""
    out = result.stdout + result.stderr
    command = result.argv[0]
    for defect, token in forbidden.items():
        if token in out:
            line = _line_with(out, token)
            return Verdict(DEFECT, defect, line)
    err = result.stderr.decode("utf-8", "replace")
    if result.timed_out:
        return Verdict(DEFECT, "timeout", err[-300:])
    if result.signal is not None:
        name = signal.Signals(result.signal).name
        return Verdict(DEFECT, f"crash:{name}", err[-300:])
    if "Traceback (most recent call last)" in err:
        kind = _traceback_type(err)
        defect = "memory" if kind == "MemoryError" else f"traceback:{kind}"
        return Verdict(DEFECT, defect, _last_line(err))
    if result.output_truncated:
        return Verdict(DEFECT, "huge-output", "")
    if result.code == 0:
        if must_reject and command == "validate":
            return Verdict(DEFECT, f"accepted:{_kind(must_reject[0])}", "; ".join(must_reject))
        return Verdict(OK)
    if result.code == 2:
        lines = [ln for ln in err.splitlines() if ln.startswith("error: ")]
        if not lines:
            return Verdict(DEFECT, "exit2-no-error-line", _last_line(err))
        for line in lines:
            if not _located(line, result.argv, repo):
                return Verdict(DEFECT, "unlocated", line[:300])
        return Verdict(REJECTED)
    if result.code == 1 and command == "run":
        return Verdict(FAILED)
    return Verdict(DEFECT, f"exit{result.code}", _last_line(err))


def _kind(label: str) -> str:
    """`services/a/serverless.yml: `service` = name-300` -> `name-300 (service)`."""
    if " = " in label:
        where, kind = label.rsplit(" = ", 1)
        key = where.split("`")[1] if "`" in where else ""
        return f"{kind} ({key.rsplit('.', 1)[-1]})" if key else kind
    if label.startswith("symlink "):
        return "symlink " + label.split()[1].rsplit("/", 1)[-1]
    return label.split(": ", 1)[-1].replace("bytes ", "")


def _line_with(data: bytes, token: bytes) -> str:
    at = data.find(token)
    start = data.rfind(b"\n", 0, at) + 1
    end = data.find(b"\n", at)
    return data[start : end if end != -1 else None][:300].decode("utf-8", "replace")


def _last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""
