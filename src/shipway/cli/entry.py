"""The `shipway` command's entry: `shipway serve` starts its AWS emulator's process before
the CLI loads (shipway/launch.py says why); every other command goes straight to it."""

from __future__ import annotations

import os
import sys


def main() -> None:
    # Everything Shipway writes (state, logs, releases, the database) is its owner's alone:
    # files 0600, folders 0700. Builds inherit it; their artifacts have fixed modes anyway.
    os.umask(0o077)
    if sys.argv[1:2] == ["serve"] and not {"--help", "-h"} & set(sys.argv):
        from shipway.launch import start_early

        start_early()
    from shipway.cli.main import cli

    cli(prog_name="shipway")
