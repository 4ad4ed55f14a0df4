"""`sns` events (lib/plugins/aws/package/compile/events/sns.js)."""

from __future__ import annotations

from typing import Any

from shipway.synth import naming
from shipway.synth.context import Context, check_keys

__all__ = ["compile_sns"]

_KEYS = ("arn", "topicName", "displayName", "filterPolicy", "filterPolicyScope")


def compile_sns(ctx: Context) -> None:
    res = ctx.resources
    for fn in ctx.functions:
        for index, item in enumerate(fn.spec.get("events") or []):
            if not (isinstance(item, dict) and "sns" in item):
                continue
            key = f"functions.{fn.key}.events[{index}].sns"
            raw = item["sns"]
            topic_arn: Any = None
            region = None
            config: dict[str, Any] = raw if isinstance(raw, dict) else {}
            if isinstance(raw, dict):
                if "redrivePolicy" in raw:
                    raise ctx.error(f"{key}.redrivePolicy")
                check_keys(ctx.source, key, raw, _KEYS)
                if raw.get("arn"):
                    topic_arn = raw["arn"]
                    topic_name = None
                    if isinstance(topic_arn, str):
                        parts = [
                            p.replace("@@", "::") for p in topic_arn.replace("::", "@@").split(":")
                        ]
                        topic_name = parts[-1]
                        if len(parts) > 3 and parts[3] != ctx.region:
                            region = parts[3]
                    topic_name = raw.get("topicName") or topic_name
                    if not topic_name:
                        raise ctx.invalid(
                            key, "`sns.topicName` is needed when `arn` is not a plain ARN"
                        )
                else:
                    topic_name = raw.get("topicName")
            elif str(raw).startswith("arn:"):
                topic_arn = str(raw)
                topic_name = topic_arn.split(":")[-1]
            else:
                topic_name = str(raw)
            topic_name = str(topic_name)
            subscription_id = naming.sns_subscription(fn.key, topic_name)
            if topic_arn:
                props: dict[str, Any] = {
                    "TopicArn": topic_arn,
                    "Protocol": "lambda",
                    "Endpoint": fn.arn,
                }
                if config.get("filterPolicy") is not None:
                    props["FilterPolicy"] = config["filterPolicy"]
                if config.get("filterPolicyScope") is not None:
                    props["FilterPolicyScope"] = config["filterPolicyScope"]
                if region:
                    props["Region"] = region
                res[subscription_id] = {"Type": "AWS::SNS::Subscription", "Properties": props}
            else:
                topic_arn = {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":sns:",
                            {"Ref": "AWS::Region"},
                            ":",
                            {"Ref": "AWS::AccountId"},
                            ":",
                            topic_name,
                        ],
                    ]
                }
                topic_id = naming.topic_logical_id(topic_name)
                subscription = {"Endpoint": fn.arn, "Protocol": "lambda"}
                if topic_id not in res:
                    topic_props: dict[str, Any] = {"TopicName": topic_name}
                    if config.get("displayName"):
                        topic_props["DisplayName"] = config["displayName"]
                    res[topic_id] = {"Type": "AWS::SNS::Topic", "Properties": topic_props}
                if config.get("filterPolicy"):
                    sub_props: dict[str, Any] = {**subscription, "TopicArn": {"Ref": topic_id}}
                    sub_props["FilterPolicy"] = config["filterPolicy"]
                    if config.get("filterPolicyScope") is not None:
                        sub_props["FilterPolicyScope"] = config["filterPolicyScope"]
                    res[subscription_id] = {
                        "Type": "AWS::SNS::Subscription",
                        "Properties": sub_props,
                    }
                else:
                    res[topic_id]["Properties"].setdefault("Subscription", []).append(subscription)
            res[naming.sns_permission(fn.key, topic_name)] = {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "FunctionName": fn.arn,
                    "Action": "lambda:InvokeFunction",
                    "Principal": "sns.amazonaws.com",
                    "SourceArn": topic_arn,
                },
            }
