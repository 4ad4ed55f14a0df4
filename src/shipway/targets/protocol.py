"""The one protocol every target speaks: plain data from `model` in and out.

The engine, `shipway plan`, `shipway rollback` and the server call only these
methods; `targets.select` picks the implementation from the environment's `target`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from shipway.model import ApplyResult, DeployInput, DeployPlan, DeployRequest, StackEvent

__all__ = ["EventSink", "Prepare", "Target"]

#: called before a service deploys, with the outputs of every stack deployed so far in
#: the run (by stack name): returns the service to deploy (its `${cf:…}` resolved again)
Prepare = Callable[[DeployInput, Mapping[str, Mapping[str, str]]], DeployInput]

#: `(service, event)`: a stack event as it arrives, for the live rows
EventSink = Callable[[str, StackEvent], None]


class Target(Protocol):
    def check(self) -> str:
        """Who the target deploys as (the AWS account; "" for this machine), checked
        before anything is touched: missing or wrong credentials, or another account
        than the environment's `account`, raise ShipwayError (exit 2)."""
        ...

    def plan(self, request: DeployRequest, *, change_sets: bool = False) -> DeployPlan:
        """Which services the release changes, and why; nothing changed. `change_sets`:
        also the resource-level changes (an aws target makes change sets and deletes them)."""
        ...

    def reserve(self, env: str, at_least: int) -> int:
        """The number for the next release: `at_least` (the store's next), or higher when
        the target already holds that one (a killed deploy may have left it unrecorded)."""
        ...

    def apply(self, plan: DeployPlan, request: DeployRequest, number: int) -> ApplyResult:
        """Release `number`: every service of the plan, or none (a failure returns each
        service changed so far to its previous state). Work that failed is a result with
        `ok` False; bad input or credentials raise ShipwayError before anything changes."""
        ...

    def rollback(self, request: DeployRequest, number: int) -> ApplyResult:
        """An earlier release's services (`request`), deployed again as release `number`."""
        ...

    def remove(self, env: str, stacks: Sequence[str]) -> ApplyResult:
        """Deletes what the environment holds on the target (its stacks, in the order
        given: dependents first)."""
        ...
