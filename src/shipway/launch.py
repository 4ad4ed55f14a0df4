"""The AWS emulator's process, started before anything else loads: `shipway serve` starts
it first of all (cli/entry.py), since moto takes over a second to load, and loading it in
a process of its own while Shipway loads is what makes the server ready in about the time
of the slower of the two; targets/local/emulator.py takes the process over. Standard
library only: importing this costs nothing."""

from __future__ import annotations

import subprocess
import sys

#: the emulator's process started before the CLI loaded, until the server takes it
_early: subprocess.Popen[str] | None = None


def start_early() -> None:
    """Starts the emulator's process now, for the server to take (`take_early_emulator`)."""
    global _early
    if _early is None:
        _early = spawn_emulator()


def spawn_emulator() -> subprocess.Popen[str]:
    """emulator_main.py in a child: it says its port on its first line of output, and
    ends when its standard input closes (this process stopped it, or died)."""
    return subprocess.Popen(
        [sys.executable, "-m", "shipway.targets.local.emulator_main"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # a Ctrl-C reaches the server, which stops it
    )


def take_early_emulator() -> subprocess.Popen[str] | None:
    """The process `main` started, once (None when it started none, or it was taken)."""
    global _early
    child, _early = _early, None
    return child
