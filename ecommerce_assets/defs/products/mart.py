"""dm_fct_ecommerce: the daily per-category mart for BI, in PostgreSQL."""

from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

import pyarrow as pa
from dagster import Any as DagsterAny
from dagster import AssetDep, AssetExecutionContext, AssetIn, MetadataValue, Output, asset
from dagster_duckdb import DuckDBResource

from ecommerce_assets.automation import follows_upstream
from ecommerce_assets.defs.products.keys import CHANGES, CHANGES_TABLE, MART, MART_TABLE, ODS
from ecommerce_assets.defs.products.transforms.mart import MART_INPUT_COLUMNS, build_mart, mart_markdown
from ecommerce_assets.io_managers import warehouse_table_metadata
from ecommerce_assets.partition_map import by_partition, for_partitions
from ecommerce_assets.partitions import BACKFILL_POLICY, WAREHOUSE_POOL, daily_partitions
from ecommerce_assets.retries import STEP_RETRY, heals
from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.warehouse import PartitionAbsent, WarehouseResource

SQL = SqlFiles("ecommerce_assets.defs.products")
TOTALS = ("out_of_stock_count", "inventory_value", "price_changes")  # plotted by the UI across partitions


def price_changed_products(warehouse: WarehouseResource, day: date) -> pa.Table:
    """The products whose price changed on the day (dm.fct_product_changes), which must have been derived."""
    if not warehouse.day_loaded(CHANGES_TABLE, day):
        raise PartitionAbsent(CHANGES_TABLE, day, f"materialize {CHANGES.to_user_string()} for partition {day} first")
    return warehouse.fetch_arrow(SQL.text("postgres/price_changed_products.sql"), (day,))


@asset(
    retry_policy=STEP_RETRY,
    key=MART,
    group_name="dm",
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    io_manager_key="warehouse_io_manager",
    # the ODS day streamed from PostgreSQL into DuckDB's aggregation: a day never sits in memory whole
    ins={"ods": AssetIn(key=ODS, metadata={"columns": list(MART_INPUT_COLUMNS)}, dagster_type=DagsterAny)},
    deps=[AssetDep(CHANGES)],
    metadata=warehouse_table_metadata(MART_TABLE, "report_date"),
    kinds={"duckdb", "postgres"},
    automation_condition=follows_upstream(),
    pool=WAREHOUSE_POOL,
    description="Per category and day: product count, total stock, average price and rating, products out of "
                "stock, inventory value, average discount and products whose price changed.",
)
@heals
def dm_fct_ecommerce(context: AssetExecutionContext, ods: pa.RecordBatchReader | Mapping[str, pa.RecordBatchReader],
                     duckdb: DuckDBResource, warehouse: WarehouseResource) -> Iterator[Output[Any]]:
    """Per category and day: product count, total stock, average price and rating, products out of stock,
    inventory value, average discount and products whose price changed. A run over several days (a backfill
    range) builds and writes them one at a time."""
    keys = context.partition_keys
    days = by_partition(keys, ods)

    def build(key: str) -> pa.Table:
        day = date.fromisoformat(key)
        price_changed = price_changed_products(warehouse, day)
        with duckdb.get_connection() as con:
            mart = build_mart(con, days[key], day, price_changed)
        totals = Counter({name: sum(v for v in mart.column(name).to_pylist() if v is not None) for name in TOTALS})
        context.add_asset_metadata({
            "row_count": mart.num_rows, "mart": MetadataValue.md(mart_markdown(mart)),
            "out_of_stock_count": int(totals["out_of_stock_count"]),
            "inventory_value": float(totals["inventory_value"]),
            "price_changes": int(totals["price_changes"]),
        }, partition_key=key)
        return mart

    yield Output(for_partitions(keys, build))
