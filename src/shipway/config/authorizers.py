"""`http` event authorizers as the Serverless Framework v3.40.0 reads them, as plain data.

lib/plugins/aws/package/compile/events/api-gateway/lib/validate.js (`getAuthorizer`).
Synthesis turns these into CloudFormation (synth/events/rest_authorizers.py); `httpApi`
authorizers are in http_api_authorizers.py, the one view of both in authorizer_view.py.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipway.errors import ShipwayError, Where

__all__ = [
    "DEFAULT_REST_IDENTITY_SOURCE",
    "RestAuthorizer",
    "check_keys",
    "invalid",
    "is_cognito_arn",
    "rest_authorizer",
]

DEFAULT_REST_IDENTITY_SOURCE = "method.request.header.Authorization"
_COGNITO_ARN = re.compile(r"^arn:[a-zA-Z-]*:cognito-idp")
_REST_KEYS = (
    "name",
    "arn",
    "type",
    "authorizerId",
    "identitySource",
    "identityValidationExpression",
    "resultTtlInSeconds",
    "scopes",
    "managedExternally",
)


def _unsupported(source: str, key: str, hint: str | None = None) -> ShipwayError:
    return ShipwayError(
        "this setting is not supported by Shipway's CloudFormation synthesis",
        Where(source, key=key),
        hint=hint,
    )


def invalid(source: str, key: str, message: str) -> ShipwayError:
    return ShipwayError(message, Where(source, key=key))


def check_keys(source: str, base: str, value: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in value:
        if key not in allowed:
            raise _unsupported(source, f"{base}.{key}")


def is_cognito_arn(value: Any) -> bool:
    return isinstance(value, str) and bool(_COGNITO_ARN.match(value))


def _name_from_arn(arn: str) -> str:
    """naming.js extractAuthorizerNameFromArn: the part after the last `-` of the name."""
    return arn.split(":")[-1].split("-")[-1]


def _lambda_arn(function: str) -> dict[str, Any]:
    """resolve-lambda-target.js, without aliases (Shipway refuses provisioned concurrency)."""
    upper = function.replace("-", "Dash").replace("_", "Underscore")
    return {"Fn::GetAtt": [f"{upper[:1].upper()}{upper[1:]}LambdaFunction", "Arn"]}


# --------------------------------------------------------------------------- http (REST)


@dataclass(frozen=True)
class RestAuthorizer:
    """validate.js getAuthorizer's result; `None` fields are the Framework's `undefined`."""

    type: str | None  # as written (`token`, `REQUEST`, `COGNITO_USER_POOLS`, `AWS_IAM` …)
    name: str | None
    arn: Any  # a string ARN, a CloudFormation function, or the function's Fn::GetAtt
    function: str | None  # the authorizer function of this service, when named
    authorizer_id: Any
    result_ttl: int | None
    identity_source: str | None
    identity_validation_expression: str | None
    scopes: tuple[Any, ...] | None
    managed_externally: bool

    @property
    def is_iam(self) -> bool:
        return self.type == "AWS_IAM"

    @property
    def is_cognito(self) -> bool:
        return (self.type or "").upper() == "COGNITO_USER_POOLS" or is_cognito_arn(self.arn)


def rest_authorizer(
    source: str, key: str, raw: Any, functions: Mapping[str, Any]
) -> RestAuthorizer | None:
    """An `http` event's `authorizer:` (at `key`), or None when it has none."""
    if not raw:
        return None
    type_: str | None = None
    name: str | None = None
    arn: Any = None
    function: str | None = None
    authorizer_id: Any = None
    ttl: int | None = None
    identity: str | None = None
    expression: str | None = None
    scopes: tuple[Any, ...] | None = None
    managed = False
    if isinstance(raw, str):
        if raw.upper() == "AWS_IAM":
            type_ = "AWS_IAM"
        elif ":" not in raw:
            function = name = raw
        else:
            arn, name = raw, _name_from_arn(raw)
    elif isinstance(raw, dict):
        check_keys(source, key, raw, _REST_KEYS)
        raw_type = raw.get("type")
        if raw_type is not None and not isinstance(raw_type, str):
            raise invalid(source, f"{key}.type", "`type` must be a string")
        if raw_type and raw.get("authorizerId"):
            type_, authorizer_id = raw_type, raw["authorizerId"]
        elif raw_type and raw_type.upper() == "AWS_IAM":
            type_ = "AWS_IAM"
        elif raw.get("arn"):
            arn = raw["arn"]
            if isinstance(raw.get("name"), str):
                name = raw["name"]
            elif isinstance(arn, str):
                name = _name_from_arn(arn)
            else:
                raise invalid(
                    source,
                    f"{key}.name",
                    "an authorizer given by a CloudFormation `arn` needs a `name`",
                )
        elif raw.get("name"):
            function = name = str(raw["name"])
        else:
            raise invalid(source, key, "an authorizer needs a function `name` or an `arn`")
        if not type_:
            type_ = raw_type
        if type_ and type_.upper() not in (
            "TOKEN",
            "REQUEST",
            "COGNITO_USER_POOLS",
            "AWS_IAM",
            "CUSTOM",
        ):
            raise invalid(
                source,
                f"{key}.type",
                f"unknown authorizer type `{type_}` (token, request, cognito_user_pools, aws_iam)",
            )
        ttl = _ttl(source, key, raw.get("resultTtlInSeconds"))
        if raw.get("scopes") is not None:
            if not isinstance(raw["scopes"], list):
                raise invalid(source, f"{key}.scopes", "`scopes` must be a list")
            scopes = tuple(raw["scopes"])
        identity = _optional_str(source, f"{key}.identitySource", raw.get("identitySource"))
        expression = _optional_str(
            source, f"{key}.identityValidationExpression", raw.get("identityValidationExpression")
        )
        managed = bool(raw.get("managedExternally"))
    else:
        raise invalid(source, key, "`authorizer` must be a string or a mapping")
    if (type_ or "").upper() == "CUSTOM" and not authorizer_id:
        raise invalid(source, f"{key}.type", "`type: custom` needs the `authorizerId` it names")
    if function is not None and function not in functions:
        raise invalid(source, key, f"authorizer function `{function}` is not in this service")
    if not identity and not ((type_ or "").upper() == "REQUEST" and ttl == 0):
        identity = DEFAULT_REST_IDENTITY_SOURCE
    if function is not None:
        arn = _lambda_arn(function)
    return RestAuthorizer(
        type_, name, arn, function, authorizer_id, ttl, identity, expression, scopes, managed
    )


def _ttl(source: str, key: str, value: Any) -> int:
    """`Number.parseInt(value, 10)`, 300 when it is not a number."""
    if isinstance(value, bool) or value is None:
        return 300
    match = re.match(r"^\s*([+-]?\d+)", str(value))
    ttl = int(match.group(1)) if match else 300
    if not 0 <= ttl <= 3600:
        raise invalid(source, f"{key}.resultTtlInSeconds", "must be between 0 and 3600")
    return ttl


def _optional_str(source: str, key: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(source, key, "must be a string")
    return value
