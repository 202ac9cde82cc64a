"""dm_fct_ecommerce: the daily per-category mart for BI, in PostgreSQL."""

from datetime import date

import pyarrow as pa
from dagster import AssetExecutionContext, AssetIn, MetadataValue, Output, asset
from dagster_duckdb import DuckDBResource

from ecommerce_assets.io_managers.postgres_table import pg_table_metadata
from ecommerce_assets.automation import follows_upstream
from ecommerce_assets.partitions import WAREHOUSE_POOL, daily_partitions
from ecommerce_assets.transforms.mart import MART_INPUT_COLUMNS, build_mart, mart_markdown


@asset(
    name="dm_fct_ecommerce",
    group_name="dm",
    partitions_def=daily_partitions,
    io_manager_key="postgres_io_manager",
    ins={"ods_fct_products": AssetIn(metadata={"columns": list(MART_INPUT_COLUMNS)})},
    metadata=pg_table_metadata("dm.fct_ecommerce", "report_date"),
    kinds={"duckdb", "postgres"},
    automation_condition=follows_upstream(),
    pool=WAREHOUSE_POOL,
    description="Per category and day: product count, total stock, average price and rating.",
)
def dm_fct_ecommerce(
    context: AssetExecutionContext, ods_fct_products: pa.Table, duckdb: DuckDBResource
) -> Output[pa.Table]:
    """Per category and day: product count, total stock, average price and rating."""
    with duckdb.get_connection() as con:
        mart = build_mart(con, ods_fct_products, date.fromisoformat(context.partition_key))
    return Output(mart, metadata={"row_count": mart.num_rows, "mart": MetadataValue.md(mart_markdown(mart))})
