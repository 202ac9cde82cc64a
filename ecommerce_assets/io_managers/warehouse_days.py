"""Days of warehouse tables as Dagster outputs and inputs: an asset returns a day's rows (an Arrow table, or
a stream of batches for a day too large to hold), the warehouse writes them; a downstream asset receives a
stored day as a stream of batches, exactly as stored."""

from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, TypeAlias

import pyarrow as pa
from dagster import ConfigurableIOManager, InputContext, OutputContext, ResourceDependency

from ecommerce_assets.partition_map import by_partition, for_partitions
from ecommerce_assets.retries import heals
from ecommerce_assets.warehouse import PartitionAbsent, WarehouseResource

Rows: TypeAlias = pa.Table | pa.RecordBatchReader


def warehouse_table_metadata(table: str, partition_column: str) -> dict[str, str]:
    """Definition metadata that points an asset at its table and says which column holds the day."""
    return {"pg_table": table, "pg_partition_column": partition_column}


def _target(metadata: Mapping[str, Any] | None) -> tuple[str, str]:
    if not metadata or "pg_table" not in metadata or "pg_partition_column" not in metadata:
        raise ValueError("assets stored in the warehouse need pg_table and pg_partition_column metadata "
                         "(warehouse_table_metadata)")
    return str(metadata["pg_table"]), str(metadata["pg_partition_column"])


class WarehouseDayIOManager(ConfigurableIOManager):
    """Each day: staged by binary COPY, then written in one transaction (a day partition swapped in, or an
    upsert by primary key that leaves unchanged rows alone and deletes rows gone), the load recorded; a failure
    changes nothing. A run over several days hands over a mapping by day, written one day at a time, in order."""

    warehouse: ResourceDependency[WarehouseResource]

    @heals
    def handle_output(self, context: OutputContext, obj: Rows | Mapping[str, Rows]) -> None:
        table, partition_column = _target(context.definition_metadata)
        keys = context.asset_partition_keys
        self.warehouse.require_current_schema()
        totals: Counter[str] = Counter()
        for key, rows in by_partition(keys, obj).items():
            stats = self.warehouse.write_day(table, partition_column, date.fromisoformat(key), rows)
            totals.update({"rows_in_partition": stats.inserted + stats.updated + stats.unchanged,
                           "rows_inserted": stats.inserted, "rows_updated": stats.updated,
                           "rows_unchanged": stats.unchanged, "rows_deleted": stats.deleted})
        context.add_output_metadata({"table": table, **({"partitions": len(keys)} if len(keys) > 1 else {}),
                                     **{name: int(n) for name, n in totals.items()}})

    @heals
    def load_input(self, context: InputContext) -> pa.RecordBatchReader | Mapping[str, pa.RecordBatchReader]:
        """A stored day as a stream of batches, read from the warehouse while it is consumed (input metadata
        `columns` picks columns); several days: a mapping by day, each opened when looked up."""
        upstream = context.upstream_output
        if upstream is None or upstream.asset_key is None:
            raise ValueError("WarehouseDayIOManager only loads asset inputs")
        table, partition_column = _target(upstream.definition_metadata)
        columns = list((context.definition_metadata or {}).get("columns") or []) or None
        upstream_asset = upstream.asset_key.to_user_string()

        def load(key: str) -> pa.RecordBatchReader:
            day = date.fromisoformat(key)
            if not self.warehouse.day_loaded(table, day):
                raise PartitionAbsent(table, day, remedy=(
                    f"materialize {upstream_asset} for partition {key} first "
                    f"({context.asset_key.to_user_string()} is never built from a missing day)"))
            schema = self.warehouse.day_schema(table, columns)

            def batches() -> Iterator[pa.RecordBatch]:
                with self.warehouse.read_day(table, partition_column, day, columns) as reader:
                    yield from reader

            return pa.RecordBatchReader.from_batches(schema, batches())

        return for_partitions(context.asset_partition_keys, load)

