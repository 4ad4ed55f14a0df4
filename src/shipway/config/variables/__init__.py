"""The Serverless Framework v3 variable resolver: `${source:address, fallback}`.

- `parse`: the `${...}` grammar;
- `values`: JavaScript-like string coercion and plain copies;
- `sources`: the source protocol and the built-in sources;
- `resolve`: the `Resolver` over a whole document.

AWS-backed sources (`ssm`, `cf`, `s3`, `aws:accountId`) live in
`shipway.targets.aws.sources` and are passed in as `sources`.
"""

from shipway.config.variables.parse import VariableSyntaxError, parse_variables
from shipway.config.variables.resolve import Resolver, files_read
from shipway.config.variables.sources import AWS_SOURCES, Absent, SourceCall, SourceFn
from shipway.config.variables.values import coerce_string, plain

__all__ = [
    "AWS_SOURCES",
    "Absent",
    "Resolver",
    "SourceCall",
    "SourceFn",
    "VariableSyntaxError",
    "coerce_string",
    "files_read",
    "parse_variables",
    "plain",
]
