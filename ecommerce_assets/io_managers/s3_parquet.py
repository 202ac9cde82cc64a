"""Stores asset partitions as one zstd Parquet object each in the S3 lake; the object appears whole or not at all."""

import os
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from botocore.exceptions import ClientError
from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext, ResourceDependency
from pydantic import Field

from ecommerce_assets.io_managers.partition_map import LazyPartitions
from ecommerce_assets.resources.lake import S3LakeResource

PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"


@dataclass(frozen=True)
class LakeLocation:
    """Where an asset's partitions live: `<prefix>/<partition_field>=<key>/<filename>`."""

    prefix: str
    partition_field: str
    filename: str

    def key(self, partition_key: str) -> str:
        return f"{self.prefix}/{self.partition_field}={partition_key}/{self.filename}"

    def as_metadata(self) -> dict[str, str]:
        return {"lake_prefix": self.prefix, "lake_partition_field": self.partition_field, "lake_filename": self.filename}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any] | None) -> "LakeLocation":
        if not metadata or "lake_prefix" not in metadata:
            raise ValueError("assets stored by S3ParquetIOManager need lake_* metadata (LakeLocation.as_metadata())")
        return cls(str(metadata["lake_prefix"]), str(metadata["lake_partition_field"]), str(metadata["lake_filename"]))


@dataclass
class BatchStream:
    """Record batches produced while they are written (pages of an API, say); `summary` is read after the
    last batch and added to the output metadata. An exception from `batches` aborts the write."""

    schema: pa.Schema
    batches: Iterable[pa.RecordBatch]
    summary: Callable[[], Mapping[str, Any]] = field(default=lambda: {})
    # key-value metadata stored in the Parquet footer once every batch is written (e.g. the API's total)
    footer: Callable[[], Mapping[str, str]] = field(default=lambda: {})


@dataclass(frozen=True)
class ReuseStored:
    """Keep the object already stored for this partition; `reason` is shown in the metadata."""

    reason: str


class S3ParquetIOManager(ConfigurableIOManager):
    """Writes Parquet (zstd) to a local spool file, then uploads it in one PUT or multipart upload, so
    readers never see a partial object; loads a partition as a pyarrow dataset over a local copy."""

    lake: ResourceDependency[S3LakeResource]
    compression: str = Field(default="zstd", description="Parquet compression codec")
    row_group_rows: int = Field(default=64_000, description="rows per Parquet row group, at most")
    row_group_bytes: int = Field(default=64 * 1024 * 1024, description="bytes per Parquet row group, at most")

    def handle_output(self, context: OutputContext, obj: pa.Table | BatchStream | ReuseStored) -> None:
        location = LakeLocation.from_metadata(context.definition_metadata)
        key = location.key(context.asset_partition_key)
        uri = self.lake.uri(key)
        if isinstance(obj, ReuseStored):
            context.add_output_metadata({**self._describe(key), "reused": True, "reuse_reason": obj.reason})
            return
        stream = obj if isinstance(obj, BatchStream) else BatchStream(obj.schema, obj.to_batches())
        fd, spool = tempfile.mkstemp(prefix="lake-", suffix=".parquet")
        os.close(fd)
        try:
            with pq.ParquetWriter(spool, stream.schema, compression=self.compression) as writer:
                rows = written_behind(row_groups(stream.batches, self.row_group_rows, self.row_group_bytes),
                                      lambda group: writer.write_table(group, row_group_size=max(group.num_rows, 1)))
                writer.add_key_value_metadata(dict(stream.footer()))
            size = os.path.getsize(spool)
            self.lake.client().upload_file(
                spool, self.lake.bucket_name(), key, ExtraArgs={"ContentType": PARQUET_CONTENT_TYPE}
            )
        finally:
            os.unlink(spool)
        etag = self.lake.client().head_object(Bucket=self.lake.bucket_name(), Key=key)["ETag"]
        context.log.info(f"wrote {rows} rows ({size} bytes) to {uri}")
        context.add_output_metadata({
            "uri": MetadataValue.path(uri), "rows": rows, "bytes": size, "etag": etag, "reused": False,
            **stream.summary(),
        })

    def _describe(self, key: str) -> dict[str, Any]:
        head = self.lake.client().head_object(Bucket=self.lake.bucket_name(), Key=key)
        rows = pq.ParquetFile(f"{self.lake.bucket_name()}/{key}", filesystem=self.lake.filesystem()).metadata.num_rows
        return {"uri": MetadataValue.path(self.lake.uri(key)), "rows": rows, "bytes": int(head["ContentLength"]),
                "etag": head["ETag"]}

    def load_input(self, context: InputContext) -> pads.Dataset | LazyPartitions[pads.Dataset]:
        """One partition: its dataset. Several (a backfill range): a mapping by partition key whose datasets
        are fetched one at a time, when looked up."""
        upstream = context.upstream_output
        if upstream is None:
            raise ValueError("S3ParquetIOManager only loads asset inputs")
        location = LakeLocation.from_metadata(upstream.definition_metadata)
        asset = upstream.asset_key.to_user_string() if upstream.asset_key else location.prefix

        def load(partition_key: str) -> pads.Dataset:
            key = location.key(partition_key)
            if not stored_object_exists(self.lake, key):
                raise FileNotFoundError(
                    f"no stored object at {self.lake.uri(key)}: materialize {asset} for partition {partition_key} first"
                )
            return local_copy(self.lake, key)

        keys = context.asset_partition_keys
        return load(keys[0]) if len(keys) == 1 else LazyPartitions(keys, load)


def row_groups(batches: Iterable[pa.RecordBatch], max_rows: int, max_bytes: int) -> Iterator[pa.Table]:
    """Batches (API pages, say) gathered into tables of `max_rows` rows or `max_bytes` bytes, whichever
    comes first: one Parquet row group each, however small the pages. Holds one group in memory."""
    pending: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in batches:
        rest = batch
        while rest.num_rows:
            take = min(rest.num_rows, max_rows - rows)
            part, rest = rest.slice(0, take), rest.slice(take)
            pending.append(part)
            rows += part.num_rows
            size += part.nbytes
            if rows >= max_rows or size >= max_bytes:
                yield pa.Table.from_batches(pending)
                pending, rows, size = [], 0, 0
    if pending:
        yield pa.Table.from_batches(pending)


def written_behind(groups: Iterator[pa.Table], write: Callable[[pa.Table], None]) -> int:
    """Each group written on a thread of its own while the next one is gathered (a stream that arrives
    from the network keeps arriving while a row group is encoded and compressed): at most one group written
    and one gathered at a time. An error on either side stops both and is raised. The rows written."""
    rows = 0
    with ThreadPoolExecutor(1, thread_name_prefix="parquet-write") as pool:
        writing: Future[None] | None = None
        for group in groups:
            if writing is not None:
                writing.result()
            writing = pool.submit(write, group)
            rows += group.num_rows
        if writing is not None:
            writing.result()
    return rows


def local_copy(lake: S3LakeResource, key: str) -> pads.Dataset:
    """The object as a dataset over a local copy, fetched once through pyarrow's S3 filesystem, so readers
    that scan it several times (DuckDB) read local disk, not S3; the copy goes with the dataset object."""
    fd, path = tempfile.mkstemp(prefix="lake-read-", suffix=".parquet")
    os.close(fd)
    try:
        pafs.copy_files(f"{lake.bucket_name()}/{key}", path, source_filesystem=lake.filesystem(),
                        destination_filesystem=pafs.LocalFileSystem())
        dataset = pads.dataset(path, format="parquet")
    except BaseException:
        os.unlink(path)
        raise
    weakref.finalize(dataset, os.unlink, path)
    return dataset


def stored_footer(lake: S3LakeResource, key: str) -> tuple[int, dict[str, str]]:
    """Row count and key-value metadata of a stored Parquet object, from its footer alone."""
    metadata = pq.ParquetFile(f"{lake.bucket_name()}/{key}", filesystem=lake.filesystem()).metadata
    pairs = {k.decode(): v.decode() for k, v in (metadata.metadata or {}).items() if not k.startswith(b"ARROW:")}
    return metadata.num_rows, pairs


def stored_object_exists(lake: S3LakeResource, key: str) -> bool:
    try:
        lake.client().head_object(Bucket=lake.bucket_name(), Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True
