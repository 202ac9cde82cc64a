"""Stores asset partitions in PostgreSQL tables named by the asset's `pg_table` metadata."""

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeAlias

import pyarrow as pa
from dagster import ConfigurableIOManager, InputContext, OutputContext, ResourceDependency

from ecommerce_assets.io_managers.partition_map import LazyPartitions, per_partition
from ecommerce_assets.io_managers.pg_partitions import (
    PartitionAbsent,
    TableName,
    partition_batches,
    read_partition,
    write_partition,
)
from ecommerce_assets.io_managers.row_stream import RowStream
from ecommerce_assets.migrations import require_current_schema
from ecommerce_assets.resources.postgres import PostgresResource


@dataclass(frozen=True)
class PartitionWrite:
    """An asset's rows plus rows for side tables (e.g. rejected records) written in the same transaction."""

    rows: pa.Table | RowStream  # a stream for a day-partitioned table: read once, never all in memory
    side_tables: Mapping[str, pa.Table] = field(default_factory=dict)


@dataclass(frozen=True)
class PartitionSource:
    """One stored partition, read as a stream of batches while `open()`'s context is open."""

    open: Callable[[], AbstractContextManager[pa.RecordBatchReader]]


def pg_table_metadata(table: str, partition_column: str) -> dict[str, str]:
    """Definition metadata that points an asset at its table."""
    return {"pg_table": table, "pg_partition_column": partition_column}


PartitionRows: TypeAlias = pa.Table | PartitionWrite


class PostgresTableIOManager(ConfigurableIOManager):
    """Each partition: binary COPY into a staging table, then one transaction that writes it (a day
    partition swapped in, or an upsert by primary key with unchanged rows untouched and rows gone deleted)
    and replaces side tables; a failure changes nothing. A run over several partitions (a backfill range)
    hands over a mapping by partition key, written one partition at a time in order."""

    postgres: ResourceDependency[PostgresResource]

    def handle_output(self, context: OutputContext, obj: PartitionRows | Mapping[str, PartitionRows]) -> None:
        table, partition_column = _target(context.definition_metadata)
        keys = context.asset_partition_keys
        by_key: Mapping[str, PartitionRows] = per_partition(keys, obj)
        with self.postgres.connect() as conn:
            require_current_schema(conn)
        totals: Counter[str] = Counter()
        for key in keys:
            value = by_key[key]
            write = value if isinstance(value, PartitionWrite) else PartitionWrite(rows=value)
            stats, side = write_partition(self.postgres.connect, self.postgres.ingest, table, partition_column,
                                          date.fromisoformat(key), write.rows, write.side_tables)
            totals.update({"rows_in_partition": stats.inserted + stats.updated + stats.unchanged,
                           "rows_inserted": stats.inserted,
                           "rows_updated": stats.updated, "rows_unchanged": stats.unchanged,
                           "rows_deleted": stats.deleted, **{f"rows_written_{name}": n for name, n in side.items()}})
        context.add_output_metadata({"table": str(table), **({"partitions": len(keys)} if len(keys) > 1 else {}),
                                     **{name: int(n) for name, n in totals.items()}})

    def load_input(self, context: InputContext) -> Any:
        """One partition: its rows (an Arrow table), or with input metadata `stream: True` a PartitionSource
        to read them batch by batch. Several partitions: a mapping by partition key, each read when looked
        up."""
        upstream = context.upstream_output
        if upstream is None:
            raise ValueError("PostgresTableIOManager only loads asset inputs")
        table, partition_column = _target(upstream.definition_metadata)
        metadata = context.definition_metadata or {}
        columns = list(metadata["columns"]) if metadata.get("columns") else None
        upstream_asset = upstream.asset_key.to_user_string() if upstream.asset_key else str(table)

        def absent(error: PartitionAbsent) -> PartitionAbsent:
            return PartitionAbsent(error.table, error.partition,
                                   f"materialize {upstream_asset} for partition {error.partition} first "
                                   f"({context.asset_key.to_user_string()} is never built from a missing day)")

        def load(key: str) -> pa.Table:
            with self.postgres.connect() as conn:
                try:
                    return read_partition(conn, self.postgres.fetch_arrow, table, partition_column,
                                          date.fromisoformat(key), columns)
                except PartitionAbsent as error:
                    raise absent(error) from None

        def source(key: str) -> PartitionSource:
            @contextmanager
            def open_batches() -> Iterator[pa.RecordBatchReader]:
                try:
                    with self.postgres.connect() as conn, partition_batches(
                            conn, self.postgres.fetch_batches, table, partition_column, date.fromisoformat(key),
                            columns) as reader:
                        yield reader
                except PartitionAbsent as error:
                    raise absent(error) from None
            return PartitionSource(open_batches)

        make = source if metadata.get("stream") else load
        keys = context.asset_partition_keys
        return make(keys[0]) if len(keys) == 1 else LazyPartitions(keys, make)


def _target(metadata: Mapping[str, Any] | None) -> tuple[TableName, str]:
    if not metadata or "pg_table" not in metadata or "pg_partition_column" not in metadata:
        raise ValueError("assets stored by PostgresTableIOManager need pg_table and pg_partition_column metadata")
    return TableName.parse(str(metadata["pg_table"])), str(metadata["pg_partition_column"])
