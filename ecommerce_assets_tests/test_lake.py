"""The lake on each S3 server the project runs on: what the pipeline writes, Arrow reads back by ranges."""

import io
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecommerce_assets.io_managers.s3_parquet import stored_footer, written_behind
from ecommerce_assets.resources.lake import S3LakeResource

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("rows", [10, 200_000])  # one PUT; a multipart upload
def test_an_object_the_pipeline_uploads_reads_back_by_ranges(any_lake: S3LakeResource, rows: int) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"x": pa.array(range(rows), pa.int64())}), buffer)
    any_lake.client().upload_fileobj(io.BytesIO(buffer.getvalue()), any_lake.bucket_name(), "t/part.parquet")
    # Arrow reads the footer, then the column, with ranged GETs (no whole-object checksum may be checked)
    assert stored_footer(any_lake, "t/part.parquet")[0] == rows
    table = pq.read_table(f"{any_lake.bucket_name()}/t/part.parquet", filesystem=any_lake.filesystem())
    assert table.column("x").to_pylist()[-1] == rows - 1


def test_row_groups_are_written_behind_in_order_and_errors_stop_both_sides() -> None:
    groups = [pa.table({"n": list(range(i * 3, i * 3 + 3))}) for i in range(5)]
    written: list[pa.Table] = []
    assert written_behind(iter(groups), written.append) == 15
    assert pa.concat_tables(written).column("n").to_pylist() == list(range(15))

    def failing_write(group: pa.Table) -> None:
        if group.column("n")[0].as_py() == 6:
            raise OSError("disk full")
        written.append(group)

    written.clear()
    pulled: list[int] = []

    def source() -> Iterator[pa.Table]:
        for group in groups:
            pulled.append(group.column("n")[0].as_py())
            yield group

    with pytest.raises(OSError, match="disk full"):
        written_behind(source(), failing_write)
    assert len(written) == 2 and len(pulled) <= 4  # the source is not drained after the writer failed

    def torn() -> Iterator[pa.Table]:
        yield groups[0]
        raise RuntimeError("the catalog moved")

    written.clear()
    with pytest.raises(RuntimeError, match="moved"):
        written_behind(torn(), written.append)
    assert written == [groups[0]]  # what was handed over is finished before the error is raised
