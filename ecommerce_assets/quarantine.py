"""The quarantine every domain's ODS shares: one run of a domain's rules writes two assets — the accepted rows
and the rejected records with their reasons — for one day or, in a backfill range, day after day. Each day
is cleaned when the warehouse asks for it (its accepted rows stream from DuckDB, the connection open until
they have been read); once they have been read — the rules may judge as they stream — its rejected records are
set aside for the second output, its counts go on the day's materialization and what a person should see in
the log is said with the day it concerns."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, AssetOut, Output

from ecommerce_assets.automation import follows_upstream
from ecommerce_assets.io_managers import warehouse_table_metadata
from ecommerce_assets.partition_map import for_partitions


def quarantine_out(key: AssetKey, table: str, description: str) -> AssetOut:
    """One of the two outputs of a domain's ODS step: a warehouse table with a partition per snapshot day,
    written by the warehouse IO manager and following its raw snapshot for any day."""
    return AssetOut(key=key, io_manager_key="warehouse_io_manager", group_name="ods", kinds={"duckdb", "postgres"},
                    metadata=warehouse_table_metadata(table, "snapshot_date"), automation_condition=follows_upstream(),
                    description=description)


@dataclass(frozen=True)
class DayVerdicts:
    """What a domain's rules decided on one day besides the rows to store: rows rejected, counts, warnings."""

    rejected: pa.Table
    metadata: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CleanedDay:
    """What a domain's rules made of one day: the rows to store, and the rest of their verdicts — asked for once
    those rows have been read to their end."""

    accepted: pa.Table | pa.RecordBatchReader
    verdicts: Callable[[], DayVerdicts]


def quarantined_outputs(context: AssetExecutionContext, clean_day: Callable[[str, ExitStack], CleanedDay],
                        accepted: AssetKey, rejected: AssetKey, rejected_count: str) -> Iterator[Output[Any]]:
    """The two outputs of the step: `accepted` (a day, or a mapping by day opened when the warehouse writes
    it) and then `rejected` (with the total as metadata `rejected_count`). `clean_day(key, day)` cleans one
    day, entering what must stay open while its rows are read into the `day` stack."""
    keys = context.partition_keys
    rejected_by_day: dict[str, pa.Table] = {}
    opened = ExitStack()

    def clean(key: str) -> pa.Table | pa.RecordBatchReader:
        day = ExitStack()
        opened.push(day)  # closed at the end of the step at the latest
        cleaned = clean_day(key, day)

        def settle() -> None:
            verdicts = cleaned.verdicts()
            where = "" if len(keys) == 1 else f"{key}: "
            for warning in verdicts.warnings:
                context.log.warning(where + warning)
            rejected_by_day[key] = verdicts.rejected
            context.add_asset_metadata(verdicts.metadata, asset_key=accepted, partition_key=key)

        rows = cleaned.accepted
        if isinstance(rows, pa.Table):
            settle()
            day.close()
            return rows

        def batches() -> Iterator[pa.RecordBatch]:
            with day:
                yield from rows
                settle()

        return pa.RecordBatchReader.from_batches(rows.schema, batches())

    with opened:
        yield Output(for_partitions(keys, clean), output_name=accepted.to_python_identifier())
        # every day was cleaned (and written) while the warehouse stored the output above
        yield Output(for_partitions(keys, rejected_by_day.pop), output_name=rejected.to_python_identifier(),
                     metadata={rejected_count: sum(t.num_rows for t in rejected_by_day.values())})
