"""SQS, SNS, S3-notification and DynamoDB-stream calls of `AwsClient`: what the local
runtime's event-source poller needs of the local AWS emulator (targets/local/sqs_source.py).
No boto3 here."""

from __future__ import annotations

from typing import Any

from shipway.targets.aws.calls import CallsBase
from shipway.targets.aws.errors import AwsError, failure

__all__ = ["EventSourceCalls"]


class EventSourceCalls(CallsBase):
    def queue_url(self, name: str, region: str | None = None) -> str | None:
        """The URL of queue `name`, or None when there is no such queue."""
        region = region or self.region
        what = f"SQS queue `{name}` (region {region})"
        sqs = self._client("sqs", region)
        try:
            out = self._call(what, lambda: sqs.get_queue_url(QueueName=name))
        except AwsError as exc:
            if "NonExistentQueue" in exc.code or exc.code == "QueueDoesNotExist":
                return None
            raise failure(exc.response, what, "sqs:GetQueueUrl") from None
        return str(out["QueueUrl"])

    def receive_messages(
        self, url: str, count: int, region: str | None = None
    ) -> list[dict[str, Any]]:
        """Up to `count` (at most 10) messages now, with every attribute; none waited for."""
        region = region or self.region
        what = f"SQS queue `{url}`"
        sqs = self._client("sqs", region)
        try:
            out = self._call(
                what,
                lambda: sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=max(1, min(count, 10)),
                    WaitTimeSeconds=0,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ),
            )
        except AwsError as exc:
            raise failure(exc.response, what, "sqs:ReceiveMessage") from None
        return list(out.get("Messages") or [])

    def delete_messages(self, url: str, receipts: list[str], region: str | None = None) -> None:
        region = region or self.region
        what = f"SQS queue `{url}`"
        sqs = self._client("sqs", region)
        for start in range(0, len(receipts), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": handle}
                for i, handle in enumerate(receipts[start : start + 10])
            ]
            self._delete(sqs, url, entries, what)

    def _delete(self, sqs: Any, url: str, entries: list[dict[str, str]], what: str) -> None:
        try:
            self._call(
                what,
                lambda: sqs.delete_message_batch(QueueUrl=url, Entries=entries),
                verb="delete from",
            )
        except AwsError as exc:
            raise failure(exc.response, what, "sqs:DeleteMessageBatch", "delete from") from None

    def stack_resource_id(
        self, stack: str, logical_id: str, region: str | None = None
    ) -> str | None:
        """The physical ID of a stack's resource, or None when there is none."""
        region = region or self.region
        what = f"resource `{logical_id}` of stack `{stack}`"
        cfn = self._client("cloudformation", region)
        try:
            out = self._call(
                what,
                lambda: cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id),
            )
        except AwsError as exc:
            if exc.code == "ValidationError":
                return None
            raise failure(exc.response, what, "cloudformation:DescribeStackResource") from None
        detail = out.get("StackResourceDetail") or {}
        found = detail.get("PhysicalResourceId")
        return str(found) if found else None

    def ensure_queue(self, name: str, region: str | None = None) -> tuple[str, str]:
        """(URL, ARN) of queue `name`, made when there is none."""
        region = region or self.region
        what = f"SQS queue `{name}` (region {region})"
        sqs = self._client("sqs", region)
        try:
            url = str(self._call(what, lambda: sqs.create_queue(QueueName=name))["QueueUrl"])
            got = self._call(
                what, lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            )
        except AwsError as exc:
            raise failure(exc.response, what, "sqs:CreateQueue", "create") from None
        return url, str(got["Attributes"]["QueueArn"])

    def subscribe_queue(
        self,
        topic_arn: str,
        queue_arn: str,
        attributes: dict[str, str],
        region: str | None = None,
    ) -> str | None:
        """Subscribes the queue to the topic (`attributes`: FilterPolicy …); its ARN, or
        None when there is no such topic."""
        region = region or self.region
        what = f"SNS topic `{topic_arn}`"
        sns = self._client("sns", region)
        try:
            out = self._call(
                what,
                lambda: sns.subscribe(
                    TopicArn=topic_arn,
                    Protocol="sqs",
                    Endpoint=queue_arn,
                    Attributes=attributes,
                    ReturnSubscriptionArn=True,
                ),
                verb="subscribe to",
            )
        except AwsError as exc:
            if exc.code in ("NotFound", "NotFoundException"):
                return None
            raise failure(exc.response, what, "sns:Subscribe", "subscribe to") from None
        return str(out["SubscriptionArn"])

    def notify_queue(
        self, bucket: str, config_id: str, queue: dict[str, Any], region: str | None = None
    ) -> bool:
        """Adds (or replaces, by `config_id`) a queue to the bucket's notifications, keeping
        the others; False when there is no such bucket."""
        region = region or self.region
        what = f"S3 bucket `{bucket}`"
        s3 = self._client("s3", region)
        try:
            current = self._call(
                what, lambda: s3.get_bucket_notification_configuration(Bucket=bucket)
            )
        except AwsError as exc:
            if exc.code in ("NoSuchBucket", "404"):
                return False
            raise failure(exc.response, what, "s3:GetBucketNotification") from None
        config = {
            k: v
            for k, v in current.items()
            if k in ("TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations")
        }
        queues = [q for q in config.get("QueueConfigurations", []) if q.get("Id") != config_id]
        config["QueueConfigurations"] = [*queues, {"Id": config_id, **queue}]
        try:
            self._call(
                what,
                lambda: s3.put_bucket_notification_configuration(
                    Bucket=bucket, NotificationConfiguration=config
                ),
                verb="configure",
            )
        except AwsError as exc:
            raise failure(exc.response, what, "s3:PutBucketNotification", "configure") from None
        return True

    def table_stream_arn(self, table: str, region: str | None = None) -> str | None:
        """The latest stream of a DynamoDB table; None without a table or a stream."""
        region = region or self.region
        what = f"DynamoDB table `{table}`"
        dynamodb = self._client("dynamodb", region)
        try:
            out = self._call(what, lambda: dynamodb.describe_table(TableName=table))
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                return None
            raise failure(exc.response, what, "dynamodb:DescribeTable") from None
        found = (out.get("Table") or {}).get("LatestStreamArn")
        return str(found) if found else None

    def shard_iterator(
        self, stream: str, position: str, sequence: str | None = None, region: str | None = None
    ) -> str | None:
        """An iterator of the stream's first shard at `position` (TRIM_HORIZON, LATEST,
        AT_SEQUENCE_NUMBER with `sequence`); None when it has no shard."""
        region = region or self.region
        what = f"DynamoDB stream `{stream}`"
        streams = self._client("dynamodbstreams", region)
        try:
            shards = self._call(what, lambda: streams.describe_stream(StreamArn=stream))
            found = (shards.get("StreamDescription") or {}).get("Shards") or []
            if not found:
                return None
            ask: dict[str, Any] = {
                "StreamArn": stream,
                "ShardId": found[0]["ShardId"],
                "ShardIteratorType": position,
            }
            if sequence is not None:
                ask["SequenceNumber"] = sequence
            out = self._call(what, lambda: streams.get_shard_iterator(**ask))
        except AwsError as exc:
            raise failure(exc.response, what, "dynamodb:GetShardIterator") from None
        return str(out["ShardIterator"])

    def stream_records(
        self, iterator: str, limit: int, region: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """(up to `limit` records, the next iterator)."""
        region = region or self.region
        what = "a DynamoDB stream"
        streams = self._client("dynamodbstreams", region)
        try:
            out = self._call(
                what, lambda: streams.get_records(ShardIterator=iterator, Limit=max(1, limit))
            )
        except AwsError as exc:
            raise failure(exc.response, what, "dynamodb:GetRecords") from None
        return list(out.get("Records") or []), out.get("NextShardIterator")
