"""Every `shipway …` command a message names (hints, errors, help) is one that exists."""

from __future__ import annotations

import re
from pathlib import Path

import click

import shipway
from shipway.cli.main import cli

SOURCE = Path(shipway.__file__).parent
NAMED = re.compile(r"`shipway ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")


def _commands(group: click.Group) -> dict[str, click.Command]:
    return dict(group.commands)


def test_every_command_a_message_names_exists() -> None:
    top = _commands(cli)
    wrong: list[str] = []
    named = 0
    for path in sorted(SOURCE.rglob("*.py")):
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in NAMED.finditer(line):
                named += 1
                command, sub = match.group(1), match.group(2)
                where = f"{path.relative_to(SOURCE)}:{line_no}: `shipway {command}`"
                if command not in top:
                    wrong.append(where)
                    continue
                group = top[command]
                if isinstance(group, click.Group) and sub and sub not in group.commands:
                    wrong.append(f"{where} {sub}")
    assert named > 50  # the scan saw the messages (a pattern gone wrong would find none)
    assert wrong == []


def test_the_scan_catches_a_command_that_does_not_exist() -> None:
    top = _commands(cli)
    match = NAMED.search("hint=`shipway deploy-all dev`")
    assert match is not None and match.group(1) not in top
    env = top["env"]
    assert isinstance(env, click.Group) and "purge" not in env.commands
