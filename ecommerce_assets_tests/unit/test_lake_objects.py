"""The lake's Parquet writing without a server: row groups written behind the fetch, in order."""

from collections.abc import Iterator

import pyarrow as pa
import pytest

from ecommerce_assets.lake.objects import written_behind


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
