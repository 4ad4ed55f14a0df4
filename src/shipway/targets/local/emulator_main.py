"""The local AWS emulator in a process of its own (`shipway serve`'s, see emulator.py):
moto's server on 127.0.0.1 and a free port, told as one JSON line on standard output,
then its CloudFormation backend loaded (the first stack would load it: most of moto); it
ends when its standard input closes — its parent stopped, or died."""

from __future__ import annotations

import json
import logging
import os
import sys


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        server.start()
    except OSError as exc:
        sys.stdout.write(json.dumps({"error": str(exc)}) + "\n")
        sys.stdout.flush()
        return
    _, port = server.get_host_and_port()
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    # what every local stack needs, and most of moto: loaded now rather than by the first
    # stack's request (which waits for this import if it comes sooner)
    import moto.cloudformation.models  # noqa: F401

    sys.stdin.read()  # until the parent closes it
    os._exit(0)  # moto's threads are not daemons: leave at once


if __name__ == "__main__":
    main()
