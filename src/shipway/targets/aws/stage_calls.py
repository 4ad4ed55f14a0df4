"""API Gateway calls of `AwsClient`: a REST API stage's settings (no boto3 here).

The Framework sets a REST API stage's tracing, logging, metrics and tags with these calls
after the deploy (its update-stage.js), not through the template; `stage_settings` says
which, these make them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shipway.errors import ShipwayError
from shipway.targets.aws.calls import CallsBase
from shipway.targets.aws.errors import AwsError, failure

__all__ = ["ApiGatewayCalls"]


class ApiGatewayCalls(CallsBase):
    def rest_api_id(self, name: str) -> str | None:
        """The id of the REST API named `name` (as the Framework finds it: by name);
        None when there is none. Two of that name: an error naming both."""
        what = f"REST API `{name}` (region {self.region})"
        apigw = self._client("apigateway", self.region)
        found: list[str] = []
        position: str | None = None
        try:
            while True:
                ask: dict[str, Any] = {"limit": 500, **({"position": position} if position else {})}
                out = self._call(what, lambda ask=ask: apigw.get_rest_apis(**ask))  # type: ignore[misc]
                found += [
                    str(api["id"]) for api in out.get("items") or [] if api.get("name") == name
                ]
                position = out.get("position")
                if not position:
                    break
        except AwsError as exc:
            raise failure(exc.response, what, "apigateway:GET") from None
        if len(found) > 1:
            raise ShipwayError(
                f"{what}: {len(found)} REST APIs have this name ({', '.join(found)})",
                hint="give the API a name of its own (`provider.apiName`)",
            )
        return found[0] if found else None

    def rest_api_stage(self, api_id: str, stage: str) -> dict[str, Any] | None:
        """The stage as GetStage answers it; None when the API has no such stage."""
        what = f"stage `{stage}` of REST API `{api_id}`"
        apigw = self._client("apigateway", self.region)
        try:
            out = self._call(what, lambda: apigw.get_stage(restApiId=api_id, stageName=stage))
        except AwsError as exc:
            if exc.code == "NotFoundException":
                return None
            raise failure(exc.response, what, "apigateway:GET") from None
        return dict(out)

    def create_rest_api_stage(self, api_id: str, stage: str) -> None:
        """The stage, on the API's deployment (the Framework's ensureStage: a deployment
        without its stage, as left by a stage deleted by hand)."""
        what = f"stage `{stage}` of REST API `{api_id}`"
        apigw = self._client("apigateway", self.region)
        try:
            out = self._call(what, lambda: apigw.get_deployments(restApiId=api_id, limit=500))
            items = out.get("items") or []
            if not items:
                raise failure(
                    {"Error": {"Code": "NotFoundException", "Message": "no deployment"}},
                    what,
                    "apigateway:GET",
                )
            deployment = str(items[0]["id"])
            self._call(
                what,
                lambda: apigw.create_stage(
                    restApiId=api_id, stageName=stage, deploymentId=deployment
                ),
                verb="create",
            )
        except AwsError as exc:
            raise failure(exc.response, what, "apigateway:POST", "create") from None

    def update_rest_api_stage(
        self, api_id: str, stage: str, operations: Sequence[Mapping[str, str]]
    ) -> None:
        what = f"stage `{stage}` of REST API `{api_id}`"
        apigw = self._client("apigateway", self.region)
        ops = [dict(op) for op in operations]
        try:
            self._call(
                what,
                lambda: apigw.update_stage(restApiId=api_id, stageName=stage, patchOperations=ops),
                verb="update",
            )
        except AwsError as exc:
            raise failure(exc.response, what, "apigateway:PATCH", "update") from None

    def tag_api_resource(
        self, arn: str, add: Mapping[str, str], remove: Sequence[str] = ()
    ) -> None:
        """Tags set on (and keys taken off) an API Gateway resource."""
        what = f"the tags of `{arn}`"
        apigw = self._client("apigateway", self.region)
        try:
            if remove:
                keys = list(remove)
                self._call(
                    what, lambda: apigw.untag_resource(resourceArn=arn, tagKeys=keys), "update"
                )
            if add:
                tags = dict(add)
                self._call(what, lambda: apigw.tag_resource(resourceArn=arn, tags=tags), "update")
        except AwsError as exc:
            raise failure(exc.response, what, "apigateway:PUT", "update") from None
