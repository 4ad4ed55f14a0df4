"""S3 calls of `AwsClient`: the deployment bucket's objects (no boto3 here)."""

from __future__ import annotations

import base64
from pathlib import Path

from shipway.errors import ShipwayError
from shipway.targets.aws.calls import CallsBase
from shipway.targets.aws.errors import AwsError, failure

__all__ = ["S3Calls"]


class S3Calls(CallsBase):
    def object_exists(self, bucket: str, key: str) -> bool:
        what = f"S3 object `s3://{bucket}/{key}`"
        s3 = self._client("s3", self.region)
        try:
            self._call(what, lambda: s3.head_object(Bucket=bucket, Key=key))
        except AwsError as exc:
            if exc.code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise failure(exc.response, what, "s3:GetObject") from None
        return True

    def put_file(self, bucket: str, key: str, path: Path, sha256_hex: str) -> None:
        """Uploads a file; S3 checks the body against `sha256_hex` (base64'd)."""
        what = f"S3 object `s3://{bucket}/{key}`"
        s3 = self._client("s3", self.region)
        digest = base64.b64encode(bytes.fromhex(sha256_hex)).decode()

        def put() -> None:
            with path.open("rb") as body:
                s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    ChecksumSHA256=digest,
                    Metadata={"filesha256": digest},
                )

        try:
            self._call(what, put, verb="upload")
        except AwsError as exc:
            raise failure(exc.response, what, "s3:PutObject", "upload") from None

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        what = f"S3 object `s3://{bucket}/{key}`"
        s3 = self._client("s3", self.region)
        try:
            self._call(
                what,
                lambda: s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type),
                verb="upload",
            )
        except AwsError as exc:
            raise failure(exc.response, what, "s3:PutObject", "upload") from None

    def object_url(self, bucket: str, key: str) -> str:
        """The https URL CloudFormation reads a TemplateURL from."""
        s3 = self._client("s3", self.region)
        base = str(s3.meta.endpoint_url).rstrip("/")
        return f"{base}/{bucket}/{key}"

    def empty_bucket(self, bucket: str) -> int:
        """Deletes every object version and delete marker (a versioned bucket is emptied
        too); returns how many were deleted. A missing bucket is already empty."""
        what = f"bucket `{bucket}`"
        s3 = self._client("s3", self.region)
        deleted = 0
        while True:
            try:
                out = self._call(what, lambda: s3.list_object_versions(Bucket=bucket))
            except AwsError as exc:
                if exc.code == "NoSuchBucket":
                    return deleted
                raise failure(exc.response, what, "s3:ListBucketVersions") from None
            keys = [
                {"Key": v["Key"], "VersionId": v.get("VersionId") or "null"}
                for group in ("Versions", "DeleteMarkers")
                for v in out.get(group) or []
            ]
            if not keys:
                return deleted
            for start in range(0, len(keys), 1000):  # DeleteObjects takes 1000 at a time
                chunk = keys[start : start + 1000]
                try:
                    self._call(
                        what,
                        lambda chunk=chunk: s3.delete_objects(  # type: ignore[misc]
                            Bucket=bucket, Delete={"Objects": chunk, "Quiet": True}
                        ),
                        verb="empty",
                    )
                except AwsError as exc:
                    raise failure(exc.response, what, "s3:DeleteObjectVersion", "empty") from None
                deleted += len(chunk)

    def object_version(self, bucket: str, key: str) -> str | None:
        """The current version of an object: its VersionId in a versioned bucket, else its
        ETag (what changes when it is overwritten); None when there is no such object."""
        what = f"S3 object `s3://{bucket}/{key}`"
        s3 = self._client("s3", self.region)
        try:
            head = self._call(what, lambda: s3.head_object(Bucket=bucket, Key=key))
        except AwsError as exc:
            if exc.code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise failure(exc.response, what, "s3:GetObject") from None
        version = head.get("VersionId")
        if isinstance(version, str) and version and version != "null":
            return version
        return "etag:" + str(head.get("ETag", "")).strip('"')

    def download(self, bucket: str, key: str, version: str, dest: Path, max_bytes: int) -> None:
        """Write `version` of the object (as `object_version` named it) to `dest`, refusing
        an object over `max_bytes` (before and while reading: a length can lie)."""
        what = f"S3 object `s3://{bucket}/{key}`"
        s3 = self._client("s3", self.region)
        ask: dict[str, str] = {"Bucket": bucket, "Key": key}
        if version.startswith("etag:"):
            ask["IfMatch"] = f'"{version[len("etag:") :]}"'
        else:
            ask["VersionId"] = version

        def get() -> None:
            out = s3.get_object(**ask)
            if int(out.get("ContentLength") or 0) > max_bytes:
                raise ShipwayError(f"{what} is over {max_bytes // 2**20} MB")
            written = 0
            with dest.open("wb") as f:
                for chunk in out["Body"].iter_chunks(1 << 20):
                    written += len(chunk)
                    if written > max_bytes:
                        raise ShipwayError(f"{what} is over {max_bytes // 2**20} MB")
                    f.write(chunk)

        try:
            self._call(what, get)
        except AwsError as exc:
            raise failure(exc.response, what, "s3:GetObjectVersion") from None
