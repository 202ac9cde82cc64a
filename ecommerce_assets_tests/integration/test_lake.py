"""The lake on each S3 server the project runs on: what the pipeline writes, Arrow reads back by ranges."""

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecommerce_assets.lake import LakeResource


@pytest.mark.parametrize("rows", [10, 200_000])  # one PUT; a multipart upload
def test_an_object_the_pipeline_uploads_reads_back_by_ranges(any_lake: LakeResource, rows: int) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"x": pa.array(range(rows), pa.int64())}), buffer)
    any_lake.get_client().upload_fileobj(io.BytesIO(buffer.getvalue()), any_lake.bucket, "t/part.parquet")
    # Arrow reads the footer, then the column, with ranged GETs (no whole-object checksum may be checked)
    assert any_lake.footer("t/part.parquet")[0] == rows
    table = pq.read_table(f"{any_lake.bucket}/t/part.parquet", filesystem=any_lake.filesystem())
    assert table.column("x").to_pylist()[-1] == rows - 1
