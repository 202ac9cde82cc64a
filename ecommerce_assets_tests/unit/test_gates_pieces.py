"""Pieces of the gates and the fault report that need no service."""

import importlib.util

import pyarrow as pa

from ecommerce_assets.lake.objects import row_groups
from ecommerce_assets_tests.support.helpers import REPO_ROOT


def test_row_groups_gather_small_pages() -> None:
    pages = [pa.record_batch({"x": list(range(i, i + 100))}) for i in range(0, 150_000, 100)]
    groups = list(row_groups(pages, 64_000, 1 << 40))
    assert [g.num_rows for g in groups] == [64_000, 64_000, 22_000]
    assert pa.concat_tables(groups).column("x").to_pylist() == list(range(150_000))
    by_bytes = list(row_groups(pages, 64_000, 8 * 1000))  # 8-byte ints: 1,000 rows per group
    assert {g.num_rows for g in by_bytes} == {1000}


def test_the_fault_reports_rows_lost_column_counts_a_silent_loss() -> None:
    spec = importlib.util.spec_from_file_location("fault_report", REPO_ROOT / "benchmarks" / "fault_report.py")
    assert spec and spec.loader
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    expected = {"ods": {(1, "a"), (2, "b")}, "mart": {("c", 2)}}
    assert report.lost_rows(expected, {"ods": {(1, "a"), (2, "b")}, "mart": {("c", 2)}}) == 0
    assert report.lost_rows(expected, {"ods": {(1, "a")}, "mart": {("c", 2)}}) == 1            # a row gone
    assert report.lost_rows(expected, {"ods": {(1, "a"), (2, "x")}, "mart": {("c", 2)}}) == 2  # a row changed
    assert report.lost_rows(expected, {"ods": {(1, "a"), (2, "b")}, "mart": {("c", 3)}}) == 2
