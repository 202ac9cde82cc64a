"""The S3 lake (AWS, MinIO or any S3 endpoint): a boto3 client for writes, pyarrow's S3 filesystem for reads."""

from urllib.parse import urlparse

import boto3
from botocore.client import BaseClient
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from dagster import ConfigurableResource
from pyarrow import fs as pafs
from pydantic import Field

DEFAULT_BUCKET = "ecommerce-lake"
DEFAULT_REGION = "us-east-1"


class S3LakeResource(ConfigurableResource):
    """Bucket and endpoint of the lake; credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY, a profile or an instance role), never from config."""

    bucket: str = Field(default=DEFAULT_BUCKET, description="lake bucket ($ECOM_S3_BUCKET)")
    endpoint_url: str | None = Field(default=None, description="S3 endpoint: MinIO, local; None = AWS ($ECOM_S3_ENDPOINT_URL)")
    region: str = Field(default=DEFAULT_REGION, description="S3 region ($AWS_REGION)")
    connect_timeout_seconds: float = Field(default=10.0, description="seconds to open a connection to S3")
    read_timeout_seconds: float = Field(default=60.0, description="seconds to wait for an S3 answer")
    max_attempts: int = Field(default=5, description="attempts per S3 request (botocore's standard retry mode)")

    def bucket_name(self) -> str:
        return self.bucket

    def endpoint(self) -> str | None:
        return self.endpoint_url or None

    def region_name(self) -> str:
        return self.region

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket_name()}/{key}"

    def client(self) -> BaseClient:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint(),
            region_name=self.region_name(),
            config=BotoConfig(
                connect_timeout=self.connect_timeout_seconds,
                read_timeout=self.read_timeout_seconds,
                retries={"max_attempts": self.max_attempts, "mode": "standard"},
                s3={"addressing_style": "path"} if self.endpoint() else None,
                # No flexible checksums unless an operation requires them: an S3-compatible server that
                # stores a whole object's CRC and returns it on ranged GETs (rclone does) would otherwise
                # fail Arrow's ranged reads of a small object ("Response checksums mismatch").
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist yet (deployments, local services, tests)."""
        client = self.client()
        try:
            client.head_bucket(Bucket=self.bucket_name())
        except ClientError:
            client.create_bucket(Bucket=self.bucket_name())

    def filesystem(self) -> pafs.S3FileSystem:
        endpoint = self.endpoint()
        kwargs: dict[str, object] = {
            "region": self.region_name(),
            "connect_timeout": self.connect_timeout_seconds,
            "request_timeout": self.read_timeout_seconds,
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=self.max_attempts),
        }
        if endpoint:
            parsed = urlparse(endpoint)
            kwargs["endpoint_override"] = parsed.netloc or parsed.path
            kwargs["scheme"] = parsed.scheme or "https"
            kwargs["force_virtual_addressing"] = False
        return pafs.S3FileSystem(**kwargs)
