"""What every command shares: the --repo and --json options, error handling, JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from shipway.errors import ConfigErrors, ShipwayError, WorkFailed

F = TypeVar("F", bound=Callable[..., Any])

repo_option = click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The repository (default: the git repository of the current folder).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def err(text: str) -> None:
    click.echo(text, err=True)


def terminate(signum: int, frame: object) -> None:
    """SIGTERM (a CI job's timeout, `kill`) as Ctrl-C: the run is recorded as cancelled
    and its builds stopped, instead of the process vanishing with them running."""
    raise KeyboardInterrupt


def handle_errors(fn: F) -> F:
    """Bad input -> a clear message and exit 2; the user's work failing -> exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigErrors as exc:
            for e in exc.errors:
                err(f"error: {e}")
            err(f"{len(exc.errors)} problem(s) found")
            sys.exit(2)
        except ShipwayError as exc:
            err(f"error: {exc}")
            sys.exit(2)
        except WorkFailed as exc:
            err(f"failed: {exc}")
            sys.exit(1)
        except KeyboardInterrupt:
            err("interrupted")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
