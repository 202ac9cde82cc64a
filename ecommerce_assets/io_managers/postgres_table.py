"""Stores asset partitions in PostgreSQL tables named by the asset's `pg_table` metadata."""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeAlias

import pyarrow as pa
from dagster import ConfigurableIOManager, InputContext, OutputContext, ResourceDependency

from ecommerce_assets.io_managers.partition_map import LazyPartitions, per_partition
from ecommerce_assets.io_managers.pg_partitions import PartitionAbsent, TableName, read_partition, write_partition
from ecommerce_assets.io_managers.row_stream import RowStream
from ecommerce_assets.migrations import require_current_schema
from ecommerce_assets.resources.postgres import PostgresResource


@dataclass(frozen=True)
class PartitionWrite:
    """An asset's rows plus rows for side tables (e.g. rejected records) written in the same transaction."""

    rows: pa.Table | RowStream  # a stream for a day-partitioned table: read once, never all in memory
    side_tables: Mapping[str, pa.Table] = field(default_factory=dict)


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

    def load_input(self, context: InputContext) -> pa.Table | LazyPartitions[pa.Table]:
        """One partition: its rows. Several: a mapping by partition key, each read when looked up."""
        upstream = context.upstream_output
        if upstream is None:
            raise ValueError("PostgresTableIOManager only loads asset inputs")
        table, partition_column = _target(upstream.definition_metadata)
        columns = context.definition_metadata.get("columns") if context.definition_metadata else None

        def load(key: str) -> pa.Table:
            partition = date.fromisoformat(key)
            with self.postgres.connect() as conn:
                try:
                    return read_partition(conn, self.postgres.fetch_arrow, table, partition_column, partition,
                                          list(columns) if columns else None)
                except PartitionAbsent as absent:
                    upstream_asset = upstream.asset_key.to_user_string() if upstream.asset_key else str(table)
                    raise PartitionAbsent(
                        absent.table, absent.partition,
                        f"materialize {upstream_asset} for partition {partition} first "
                        f"({context.asset_key.to_user_string()} is never built from a missing day)",
                    ) from None

        keys = context.asset_partition_keys
        return load(keys[0]) if len(keys) == 1 else LazyPartitions(keys, load)


def _target(metadata: Mapping[str, Any] | None) -> tuple[TableName, str]:
    if not metadata or "pg_table" not in metadata or "pg_partition_column" not in metadata:
        raise ValueError("assets stored by PostgresTableIOManager need pg_table and pg_partition_column metadata")
    return TableName.parse(str(metadata["pg_table"])), str(metadata["pg_partition_column"])
