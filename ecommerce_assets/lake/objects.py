"""Parquet objects in the lake: written whole or not at all (a local spool file, uploaded while it is written
as the parts of one multipart upload, which S3 publishes only when complete — or in one PUT when small), read
through a local copy fetched once."""

import hashlib
import os
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from ecommerce_assets.handoff import HandOff

PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"


class UnreadableObject(RuntimeError):
    """An object of the lake that is not the Parquet it should be (truncated, replaced by something else)."""


@dataclass(frozen=True)
class StoredObject:
    uri: str
    rows: int
    bytes: int
    etag: str


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


def write_spool(path: str, reader: pa.RecordBatchReader, footer: Callable[[], Mapping[str, str]], *,
                compression: str, row_group_rows: int, row_group_bytes: int,
                on_group: Callable[[pa.Table], None] | None = None) -> int:
    """`reader`'s rows as a Parquet file at `path`, in row groups of at most `row_group_rows` rows or
    `row_group_bytes` bytes; `footer()` (read after the last row) is stored as key-value metadata.
    `on_group` sees each row group after it is written, on the writing thread."""
    def write(group: pa.Table) -> None:
        writer.write_table(group, row_group_size=max(group.num_rows, 1))
        if on_group is not None:
            on_group(group)

    with pq.ParquetWriter(path, reader.schema, compression=compression) as writer:
        rows = written_behind(row_groups(reader, row_group_rows, row_group_bytes), write)
        writer.add_key_value_metadata(dict(footer()))
    return rows


# Rows per row group of an object the pipeline writes (at most ROW_GROUP_BYTES of them): the writing thread starts
# on a group once it is gathered, so a smaller group keeps it busy sooner and leaves less to write after the last
# page (the raw step of 1M products: a 64,000-row group left one core idle its first second); DuckDB and Arrow
# read such groups in parallel all the same.
ROW_GROUP_ROWS = 32_000
ROW_GROUP_BYTES = 64 * 1024 * 1024

# S3's smallest part but the last is 5 MiB; a part is sent once the spool has grown this much past the last one.
# Larger objects get larger parts (a multipart upload holds at most 10,000).
PART_BYTES = 16 * 1024 * 1024
MAX_PARTS = 10_000


class SpoolUpload:
    """A spool file uploaded while it is being written. Parquet is written front to back and never rewritten, so
    the bytes already in the file are final: each time it has grown a part's worth past what was sent (`grown`,
    on the writing thread), the new bytes go as the next part of a multipart upload, on a thread of its own,
    while the writer goes on. `finish` sends the rest (the footer) and completes the upload, the moment S3
    publishes the object; a file that never reached a part goes in one request then. Leaving the context on an
    error aborts the upload: no object, no parts kept."""

    def __init__(self, client: BaseClient, bucket: str, key: str, path: str, content_type: str,
                 part_bytes: int = PART_BYTES) -> None:
        self.client, self.bucket, self.key, self.path = client, bucket, key, path
        self.content_type = content_type
        self.part_bytes = part_bytes
        self.sent = 0
        self.upload_id: str | None = None
        self.parts: list[Future[dict[str, Any]]] = []
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="lake-upload")

    def __enter__(self) -> "SpoolUpload":
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)  # no part is on its way past this line
        if kind is not None and self.upload_id is not None:
            # best effort: the error being raised is the one to read (S3 gone mid-upload cannot take an abort
            # either; a bucket's lifecycle rule for incomplete uploads removes what is left)
            with suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)

    def grown(self) -> None:
        """Send what the file holds beyond the last part if it is a part's worth; raise a part's failure."""
        for part in self.parts:
            if part.done() and part.exception() is not None:
                part.result()
        size = os.path.getsize(self.path)
        if size - self.sent < max(self.part_bytes, self.sent // (MAX_PARTS // 2)):
            return
        if self.upload_id is None:
            self.upload_id = str(self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self.content_type)["UploadId"])
        self._send(size)

    def finish(self) -> None:
        """Upload what is left and publish the object."""
        if self.upload_id is None:
            self.client.upload_file(self.path, self.bucket, self.key, ExtraArgs={"ContentType": self.content_type})
            return
        self._send(os.path.getsize(self.path))
        parts = [part.result() for part in self.parts]
        self.client.complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                              MultipartUpload={"Parts": parts})
        self.upload_id = None

    def _send(self, end: int) -> None:
        start, number = self.sent, len(self.parts) + 1
        self.parts.append(self._pool.submit(self._part, number, start, end))
        self.sent = end

    def _part(self, number: int, start: int, end: int) -> dict[str, Any]:
        with open(self.path, "rb") as spool:
            spool.seek(start)
            body = spool.read(end - start)
        answer = self.client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                         PartNumber=number, Body=body)
        return {"PartNumber": number, "ETag": answer["ETag"]}


def local_copy(filesystem: pafs.FileSystem, path: str) -> pads.Dataset:
    """The object as a dataset over a local copy, fetched once, so readers that scan it several times
    (DuckDB) read local disk, not S3; the copy goes with the dataset object."""
    local = _read_path()
    try:
        pafs.copy_files(path, local, source_filesystem=filesystem, destination_filesystem=pafs.LocalFileSystem())
    except BaseException:
        os.unlink(local)
        raise
    return local_dataset(local)


def local_dataset(local: str) -> pads.Dataset:
    """A dataset over the local file `local`, which it owns: the file goes with the dataset object."""
    try:
        dataset = pads.dataset(local, format="parquet")
    except BaseException:
        os.unlink(local)
        raise
    weakref.finalize(dataset, os.unlink, local)
    return dataset


def _read_path() -> str:
    fd, local = tempfile.mkstemp(prefix="lake-read-", suffix=".parquet")
    os.close(fd)
    return local


# An object's spool file, kept after its upload for the next reader on this host — the step after the one that
# wrote it, often in the same process — which then reads the file instead of downloading the object again. Keyed
# by the object's URI and ETag, so only that very object is ever read from it; each bucket keeps its newest two.
HANDOFF = HandOff("lake", ".parquet")


def _bucket_group(uri: str) -> str:
    return hashlib.sha256(uri.removeprefix("s3://").split("/", 1)[0].encode()).hexdigest()[:12] + "-"


def handed_path(uri: str, etag: str) -> Path:
    """Where the spool of `uri` with `etag` is kept until its reader takes it."""
    return HANDOFF.path(uri, etag, group=_bucket_group(uri))


def hand_off(spool: str, uri: str, etag: str) -> None:
    """Keep `spool`, the file just uploaded as `uri` with `etag`, for its next reader on this host."""
    HANDOFF.give(spool, uri, etag, group=_bucket_group(uri))


def take_handoff(uri: str, etag: str) -> pads.Dataset | None:
    """The dataset over the file handed off for `uri` with exactly `etag`, now the caller's; None when there is
    none (another host wrote it, another reader took it, or the object was replaced since)."""
    local = HANDOFF.take(uri, etag, group=_bucket_group(uri))
    return None if local is None else local_dataset(local)


def footer(filesystem: pafs.FileSystem, path: str) -> tuple[int, dict[str, str]]:
    """Row count and key-value metadata of a stored Parquet object, from its footer alone."""
    metadata = pq.ParquetFile(path, filesystem=filesystem).metadata
    pairs = {k.decode(): v.decode() for k, v in (metadata.metadata or {}).items() if not k.startswith(b"ARROW:")}
    return metadata.num_rows, pairs


def is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def describe(head: Mapping[str, Any]) -> tuple[int, str]:
    return int(head["ContentLength"]), str(head["ETag"])
