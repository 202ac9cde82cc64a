"""The lake's resource: dagster-aws's `S3Resource` (the S3 layer the platform is built on) with the lake's
bucket, the timeouts and retries of every request, and one boto3 client and one pyarrow filesystem per
resource instance."""

import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlparse

import boto3
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from botocore.client import BaseClient
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from dagster_aws.s3 import S3Resource
from pyarrow import fs as pafs
from pydantic import Field, PrivateAttr

from ecommerce_assets.lake import objects
from ecommerce_assets.lake.objects import (
    PARQUET_CONTENT_TYPE,
    PART_BYTES,
    ROW_GROUP_BYTES,
    ROW_GROUP_ROWS,
    StoredObject,
    UnreadableObject,
)

DEFAULT_BUCKET = "ecommerce-lake"
DEFAULT_REGION = "us-east-1"

# One boto3 session per AWS profile and process, shared by every resource instance: a new session parses
# botocore's S3 model and endpoint files again (0.1 CPU-second a client; a client from a kept session costs a
# tenth of that), and Dagster builds the resource anew for every run and step. Sessions are not thread-safe,
# so clients are made from one under its lock; the clients themselves are. The session resolves the
# credential chain once, as AWS's SDKs do (role credentials refresh themselves).
_SESSIONS: dict[str | None, boto3.session.Session] = {}
_SESSIONS_LOCK = threading.Lock()


def _s3_client(profile_name: str | None, **kwargs: Any) -> BaseClient:
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(profile_name)
        if session is None:
            session = _SESSIONS[profile_name] = boto3.session.Session(profile_name=profile_name)
        return session.client("s3", **kwargs)


class LakeResource(S3Resource):
    """Bucket and endpoint of the lake (AWS, MinIO or any S3 endpoint); credentials come from the standard AWS
    chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile or an instance role), never from config."""

    bucket: str = Field(default=DEFAULT_BUCKET, description="lake bucket ($ECOM_S3_BUCKET)")
    endpoint_url: str | None = Field(default=None, description="S3 endpoint: MinIO, local; None = AWS ($ECOM_S3_ENDPOINT_URL)")
    region_name: str | None = Field(default=DEFAULT_REGION, description="S3 region ($AWS_REGION)")
    connect_timeout_seconds: float = Field(default=10.0, description="seconds to open a connection to S3")
    read_timeout_seconds: float = Field(default=60.0, description="seconds to wait for an S3 answer")
    max_attempts: int = Field(default=5, description="attempts per S3 request (botocore's standard retry mode)")

    _client: BaseClient | None = PrivateAttr(default=None)
    _filesystem: pafs.S3FileSystem | None = PrivateAttr(default=None)

    def get_object_to_set_on_execution_context(self) -> Any:
        """`context.resources.lake` is this resource (S3Resource would hand out a bare client)."""
        return self

    def region(self) -> str:
        return self.region_name or DEFAULT_REGION

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def get_client(self) -> BaseClient:
        """One boto3 client for the resource's lifetime (clients are thread-safe)."""
        if self._client is None:
            self._client = _s3_client(
                self.profile_name,
                endpoint_url=self.endpoint_url or None,
                region_name=self.region(),
                use_ssl=self.use_ssl,
                verify=self.verify,
                aws_access_key_id=self.aws_access_key_id,
                aws_secret_access_key=self.aws_secret_access_key,
                aws_session_token=self.aws_session_token,
                config=BotoConfig(
                    connect_timeout=self.connect_timeout_seconds,
                    read_timeout=self.read_timeout_seconds,
                    retries={"max_attempts": self.max_attempts, "mode": "standard"},
                    s3={"addressing_style": "path"} if self.endpoint_url else None,
                    # No flexible checksums unless an operation requires them: an S3-compatible server that
                    # stores a whole object's CRC and returns it on ranged GETs (rclone does) would otherwise
                    # fail Arrow's ranged reads of a small object ("Response checksums mismatch").
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                ),
            )
        return self._client

    def filesystem(self) -> pafs.S3FileSystem:
        """pyarrow's S3 filesystem on the same endpoint (what DuckDB is fed through: its httpfs is not used)."""
        if self._filesystem is None:
            kwargs: dict[str, object] = {
                "region": self.region(),
                "connect_timeout": self.connect_timeout_seconds,
                "request_timeout": self.read_timeout_seconds,
                "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=self.max_attempts),
            }
            if self.endpoint_url:
                parsed = urlparse(self.endpoint_url)
                kwargs["endpoint_override"] = parsed.netloc or parsed.path
                kwargs["scheme"] = parsed.scheme or "https"
                kwargs["force_virtual_addressing"] = False
            if self.aws_access_key_id and self.aws_secret_access_key:
                kwargs.update(access_key=self.aws_access_key_id, secret_key=self.aws_secret_access_key)
            self._filesystem = pafs.S3FileSystem(**kwargs)
        return self._filesystem

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist yet (deployments, local services, tests)."""
        client = self.get_client()
        try:
            client.head_bucket(Bucket=self.bucket)
        except ClientError:
            client.create_bucket(Bucket=self.bucket)

    # -- objects

    def head(self, key: str) -> Mapping[str, Any] | None:
        """The object's headers, None when there is no such object."""
        try:
            return dict(self.get_client().head_object(Bucket=self.bucket, Key=key))
        except ClientError as exc:
            if objects.is_missing(exc):
                return None
            raise

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def objects(self, prefix: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        """Every object under `prefix`: key, ETag (unquoted: some S3-compatible servers list them bare) and
        the listing's entry."""
        for page in self.get_client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                yield str(entry["Key"]), str(entry["ETag"]).strip('"'), entry

    def write_parquet(self, key: str, reader: pa.RecordBatchReader, footer: Callable[[], Mapping[str, str]] = dict, *,
                      compression: str = "zstd", row_group_rows: int = ROW_GROUP_ROWS,
                      row_group_bytes: int = ROW_GROUP_BYTES,
                      on_group: Callable[[pa.Table], None] | None = None,
                      part_bytes: int = PART_BYTES) -> StoredObject:
        """`reader`'s rows as one zstd Parquet object at `key`, which appears whole or not at all: written to
        a local spool file that is uploaded as it grows, the parts of one multipart upload completed after the
        last row (one PUT when smaller than `part_bytes`). An error from the reader, `on_group` (called with
        each row group on the writing thread, while the next one arrives) or the upload aborts the upload and
        leaves any previous object untouched."""
        fd, spool = tempfile.mkstemp(prefix="lake-", suffix=".parquet")
        os.close(fd)
        try:
            with objects.SpoolUpload(self.get_client(), self.bucket, key, spool, PARQUET_CONTENT_TYPE,
                                     part_bytes) as upload:
                def written(group: pa.Table) -> None:
                    if on_group is not None:
                        on_group(group)
                    upload.grown()

                rows = objects.write_spool(spool, reader, footer, compression=compression,
                                           row_group_rows=row_group_rows, row_group_bytes=row_group_bytes,
                                           on_group=written)
                upload.finish()
            size, etag = objects.describe(self.head(key) or {"ContentLength": 0, "ETag": ""})
            if etag:
                objects.hand_off(spool, self.uri(key), etag)  # for the next step's read of it on this host
        finally:
            if os.path.exists(spool):
                os.unlink(spool)
        return StoredObject(uri=self.uri(key), rows=rows, bytes=size, etag=etag)

    def footer(self, key: str) -> tuple[int, dict[str, str]]:
        """Row count and key-value metadata of the Parquet object at `key`, from its footer alone."""
        try:
            return objects.footer(self.filesystem(), f"{self.bucket}/{key}")
        except pa.ArrowInvalid as exc:
            raise self._unreadable(key, exc) from None

    def stored(self, key: str) -> StoredObject:
        """What is stored at `key`: rows (from the footer), bytes and ETag."""
        head = self.head(key)
        if head is None:
            raise FileNotFoundError(f"no stored object at {self.uri(key)}")
        rows, _ = self.footer(key)
        size, etag = objects.describe(head)
        return StoredObject(uri=self.uri(key), rows=rows, bytes=size, etag=etag)

    def dataset(self, key: str) -> pads.Dataset:
        """The Parquet object at `key` as a dataset over a local copy: the file this host uploaded it from when
        it is still here for exactly that object (same ETag), else fetched once."""
        head = self.head(key)
        if head is not None and (handed := objects.take_handoff(self.uri(key), objects.describe(head)[1])):
            return handed
        try:
            return objects.local_copy(self.filesystem(), f"{self.bucket}/{key}")
        except pa.ArrowInvalid as exc:
            raise self._unreadable(key, exc) from None

    def read_column(self, key: str, column: str) -> pa.ChunkedArray:
        """One column of the Parquet object at `key` (its other columns are not read)."""
        try:
            return pq.read_table(f"{self.bucket}/{key}", columns=[column], filesystem=self.filesystem()).column(column)
        except pa.ArrowInvalid as exc:
            raise self._unreadable(key, exc) from None

    def _unreadable(self, key: str, error: Exception) -> UnreadableObject:
        return UnreadableObject(
            f"{self.uri(key)} cannot be read as Parquet ({str(error).splitlines()[0]}): it was truncated or replaced "
            "by something else. Fetch the day again with config `refetch: true` (./scripts/run.sh: --refetch), or "
            "delete the object")
