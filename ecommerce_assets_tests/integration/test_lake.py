"""The lake on each S3 server the project runs on: what the pipeline writes, Arrow reads back by ranges."""

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

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
    handed = objects._handoff_path(first.uri, first.etag)
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
    assert objects._handoff_path(second.uri, second.etag).exists()  # the stale file was not used


def test_every_resource_instance_has_its_own_client_from_one_session_of_the_process(lake: LakeResource) -> None:
    """Dagster builds the resource anew for each run and step: each copy gets a client of its own, made from
    the process's one boto3 session (a session of its own would parse botocore's S3 model again, 0.1 CPU-s)."""
    copy = LakeResource(bucket=lake.bucket, endpoint_url=lake.endpoint_url)
    mine, its = lake.get_client(), copy.get_client()
    assert mine is not its and lake.get_client() is mine
    assert mine._loader is its._loader  # type: ignore[attr-defined]  # botocore's models, loaded once
    its.put_object(Bucket=copy.bucket, Key="t/one", Body=b"1")
    assert mine.get_object(Bucket=lake.bucket, Key="t/one")["Body"].read() == b"1"
