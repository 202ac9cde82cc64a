"""The lake on each S3 server the project runs on: what the pipeline writes, Arrow reads back by ranges."""

import io
import os
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from ecommerce_assets.lake import LakeResource, objects


@pytest.mark.parametrize("rows", [10, 200_000])  # one PUT; a multipart upload
def test_an_object_the_pipeline_uploads_reads_back_by_ranges(any_lake: LakeResource, rows: int) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"x": pa.array(range(rows), pa.int64())}), buffer)
    any_lake.get_client().upload_fileobj(io.BytesIO(buffer.getvalue()), any_lake.bucket, "t/part.parquet")
    # Arrow reads the footer, then the column, with ranged GETs (no whole-object checksum may be checked)
    assert any_lake.footer("t/part.parquet")[0] == rows
    table = pq.read_table(f"{any_lake.bucket}/t/part.parquet", filesystem=any_lake.filesystem())
    assert table.column("x").to_pylist()[-1] == rows - 1


def table_of(values: list[int]) -> pa.RecordBatchReader:
    table = pa.table({"x": pa.array(values, pa.int64())})
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())


def test_the_next_read_of_an_object_takes_the_file_it_was_uploaded_from_and_never_a_replaced_objects(
        lake: LakeResource) -> None:
    """The spool of an upload is handed to the next read of that very object on this host (no download); a
    read after it, or of an object replaced since, reads S3."""
    key = "t/handoff.parquet"
    first = lake.write_parquet(key, table_of([1, 2, 3]))
    handed = objects.handed_path(first.uri, first.etag)
    assert handed.exists()
    dataset = lake.dataset(key)
    assert not handed.exists()  # taken: the dataset reads the upload's own file
    assert dataset.to_table().column("x").to_pylist() == [1, 2, 3]
    assert lake.dataset(key).to_table().column("x").to_pylist() == [1, 2, 3]  # downloaded

    second = lake.write_parquet(key, table_of([4, 5]))
    buffer = io.BytesIO()
    pq.write_table(pa.table({"x": pa.array([6], pa.int64())}), buffer)
    lake.get_client().put_object(Bucket=lake.bucket, Key=key, Body=buffer.getvalue())  # replaced by another writer
    assert lake.dataset(key).to_table().column("x").to_pylist() == [6]
    assert objects.handed_path(second.uri, second.etag).exists()  # the stale file was not used


def test_every_resource_instance_has_its_own_client_from_one_session_of_the_process(lake: LakeResource) -> None:
    """Dagster builds the resource anew for each run and step: each copy gets a client of its own, made from
    the process's one boto3 session (a session of its own would parse botocore's S3 model again, 0.1 CPU-s)."""
    copy = LakeResource(bucket=lake.bucket, endpoint_url=lake.endpoint_url)
    mine, its = lake.get_client(), copy.get_client()
    assert mine is not its and lake.get_client() is mine
    assert mine._loader is its._loader  # type: ignore[attr-defined]  # botocore's models, loaded once
    its.put_object(Bucket=copy.bucket, Key="t/one", Body=b"1")
    assert mine.get_object(Bucket=lake.bucket, Key="t/one")["Body"].read() == b"1"


PART = 5 * 1024 * 1024  # S3's smallest part but the last


def incompressible_groups(groups: int, group_bytes: int, fail_after: int | None = None) -> pa.RecordBatchReader:
    """Row groups of random bytes (zstd cannot shrink them, so the spool grows by `group_bytes` a group);
    with `fail_after`, the reader raises after that many groups, as a fetch that dies midway does."""
    schema = pa.schema([pa.field("blob", pa.binary())])

    def batches() -> Iterator[pa.RecordBatch]:
        for number in range(groups):
            if number == fail_after:
                raise ConnectionError("the catalog went away")
            yield pa.RecordBatch.from_arrays([pa.array([os.urandom(4096) for _ in range(group_bytes // 4096)])],
                                             schema=schema)
    return pa.RecordBatchReader.from_batches(schema, batches())


def pending_uploads(lake: LakeResource) -> list[dict[str, Any]]:
    """The bucket's multipart uploads neither completed nor aborted (rclone answers NoSuchUpload when none)."""
    try:
        return list(lake.get_client().list_multipart_uploads(Bucket=lake.bucket).get("Uploads", []))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
            return []
        raise


def parts_on_server(lake: LakeResource, key: str) -> int:
    uploads = [u for u in pending_uploads(lake) if u["Key"] == key]
    return sum(len(lake.get_client().list_parts(Bucket=lake.bucket, Key=key, UploadId=u["UploadId"]).get("Parts", []))
               for u in uploads)


def test_a_large_object_is_uploaded_while_it_is_written_and_appears_only_complete(any_lake: LakeResource) -> None:
    """The spool goes up in parts as row groups are written (the upload no longer waits for the last row);
    the object is published only when the upload completes, and reads back whole."""
    key = "t/streamed.parquet"
    seen_before_the_end: list[tuple[int, bool]] = []

    def after_group(group: pa.Table) -> None:
        if len(seen_before_the_end) == 4:  # four groups written (16 MiB): the first part must be up by now
            deadline = time.monotonic() + 30
            while parts_on_server(any_lake, key) == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
        seen_before_the_end.append((parts_on_server(any_lake, key), any_lake.exists(key)))

    stored = any_lake.write_parquet(key, incompressible_groups(6, 4 * 1024 * 1024), row_group_rows=1024,
                                    on_group=after_group, part_bytes=PART)
    assert seen_before_the_end[4][0] >= 1  # a part was on the server before the reader had given every row
    assert not any(published for _, published in seen_before_the_end)  # nothing visible until complete
    assert stored.rows == pq.read_table(f"{any_lake.bucket}/{key}", filesystem=any_lake.filesystem()).num_rows == 6 * 1024
    assert pending_uploads(any_lake) == []


def test_a_write_that_fails_after_parts_went_up_leaves_the_previous_object_and_no_parts(any_lake: LakeResource) -> None:
    key = "t/streamed.parquet"
    previous = any_lake.write_parquet(key, table_of([1, 2, 3]))
    with pytest.raises(ConnectionError, match="the catalog went away"):
        any_lake.write_parquet(key, incompressible_groups(6, 4 * 1024 * 1024, fail_after=4), row_group_rows=1024,
                               part_bytes=PART)
    assert any_lake.stored(key).etag == previous.etag
    assert pq.read_table(f"{any_lake.bucket}/{key}", filesystem=any_lake.filesystem()).column("x").to_pylist() == [1, 2, 3]
    assert pending_uploads(any_lake) == []  # aborted
