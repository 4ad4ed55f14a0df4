"""The AWS target. boto3 is imported only when AWS is first asked something."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shipway.config.variables import SourceCall, SourceFn

if TYPE_CHECKING:
    from shipway.targets.aws.sources import ParameterReader

AWS_SOURCE_NAMES = ("ssm", "cf", "s3", "aws")


def lazy_aws_sources(
    region: str,
    profile: str | None = None,
    on_secret: Callable[[str], None] | None = None,
    parameters: ParameterReader | None = None,
) -> dict[str, SourceFn]:
    """The resolver's AWS sources, created (and boto3 imported) on the first lookup, so a
    service that uses none of them costs nothing. `on_secret`, `parameters`: see
    `aws_sources`."""
    made: dict[str, dict[str, SourceFn]] = {}

    def source(name: str) -> SourceFn:
        def call(c: SourceCall) -> Any:
            if "sources" not in made:
                from shipway.targets.aws.client import AwsClient
                from shipway.targets.aws.sources import aws_sources

                made["sources"] = aws_sources(AwsClient(region, profile), on_secret, parameters)
            return made["sources"][name](c)

        return call

    return {name: source(name) for name in AWS_SOURCE_NAMES}
