"""Stores asset partitions in PostgreSQL tables named by the asset's `pg_table` metadata."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa
from dagster import ConfigurableIOManager, InputContext, OutputContext, ResourceDependency

from ecommerce_assets.io_managers.pg_partitions import PartitionAbsent, TableName, read_partition, write_partition
from ecommerce_assets.migrations import require_current_schema
from ecommerce_assets.resources.postgres import PostgresResource


@dataclass(frozen=True)
class PartitionWrite:
    """An asset's rows plus rows for side tables (e.g. rejected records) written in the same transaction."""

    rows: pa.Table
    side_tables: Mapping[str, pa.Table] = field(default_factory=dict)


def pg_table_metadata(table: str, partition_column: str) -> dict[str, str]:
    """Definition metadata that points an asset at its table."""
    return {"pg_table": table, "pg_partition_column": partition_column}


class PostgresTableIOManager(ConfigurableIOManager):
    """Each partition: binary COPY into a staging table, then one transaction that upserts by primary key
    (unchanged rows untouched), deletes rows gone from the partition and replaces side tables; a failure
    changes nothing."""

    postgres: ResourceDependency[PostgresResource]

    def handle_output(self, context: OutputContext, obj: pa.Table | PartitionWrite) -> None:
        write = obj if isinstance(obj, PartitionWrite) else PartitionWrite(rows=obj)
        table, partition_column = _target(context.definition_metadata)
        partition = date.fromisoformat(context.asset_partition_key)
        with self.postgres.connect() as conn:
            require_current_schema(conn)
        stats, side = write_partition(self.postgres.connect, self.postgres.ingest, table, partition_column,
                                      partition, write.rows, write.side_tables)
        context.add_output_metadata({
            "table": str(table),
            "rows_in_partition": write.rows.num_rows,
            "rows_inserted": stats.inserted,
            "rows_updated": stats.updated,
            "rows_unchanged": stats.unchanged,
            "rows_deleted": stats.deleted,
            **{f"rows_written_{name}": count for name, count in side.items()},
        })

    def load_input(self, context: InputContext) -> pa.Table:
        upstream = context.upstream_output
        if upstream is None:
            raise ValueError("PostgresTableIOManager only loads asset inputs")
        table, partition_column = _target(upstream.definition_metadata)
        columns = context.definition_metadata.get("columns") if context.definition_metadata else None
        partition = date.fromisoformat(context.asset_partition_key)
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


def _target(metadata: Mapping[str, Any] | None) -> tuple[TableName, str]:
    if not metadata or "pg_table" not in metadata or "pg_partition_column" not in metadata:
        raise ValueError("assets stored by PostgresTableIOManager need pg_table and pg_partition_column metadata")
    return TableName.parse(str(metadata["pg_table"])), str(metadata["pg_partition_column"])
