"""ods_fct_products: the typed daily snapshot of every accepted product, in PostgreSQL."""

from datetime import date

import pyarrow.dataset as pads
from dagster import AssetExecutionContext, MetadataValue, Output, asset
from dagster_duckdb import DuckDBResource

from ecommerce_assets.io_managers.postgres_table import PartitionWrite, pg_table_metadata
from ecommerce_assets.automation import follows_upstream
from ecommerce_assets.partitions import WAREHOUSE_POOL, daily_partitions
from ecommerce_assets.transforms.products import clean_products

REJECTED_TABLE = "ods.rejected_products"


@asset(
    name="ods_fct_products",
    group_name="ods",
    partitions_def=daily_partitions,
    io_manager_key="postgres_io_manager",
    metadata=pg_table_metadata("ods.fct_products", "snapshot_date"),
    kinds={"duckdb", "postgres"},
    automation_condition=follows_upstream(),
    pool=WAREHOUSE_POOL,
    description="One typed row per accepted product and snapshot date; rejected records kept with their reason.",
)
def ods_fct_products(
    context: AssetExecutionContext, raw_products_parquet: pads.Dataset, duckdb: DuckDBResource
) -> Output[PartitionWrite]:
    """One typed row per accepted product and snapshot date; rejected records kept with their reason."""
    with duckdb.get_connection() as con:
        cleaned = clean_products(con, raw_products_parquet, date.fromisoformat(context.partition_key))
    if cleaned.new_fields or cleaned.missing_fields:
        context.log.warning(f"schema drift: new fields {cleaned.new_fields}, missing fields {cleaned.missing_fields}")
    if cleaned.rejected.num_rows:
        context.log.warning(f"rejected {cleaned.rejected.num_rows} records: {cleaned.rejected_by_reason}")
    return Output(
        PartitionWrite(rows=cleaned.accepted, side_tables={REJECTED_TABLE: cleaned.rejected}),
        metadata={
            "raw_records": cleaned.records,
            "accepted": cleaned.accepted.num_rows,
            "rejected": cleaned.rejected.num_rows,
            "rejected_share": round(cleaned.rejected_share, 6),
            "rejected_by_reason": MetadataValue.json(cleaned.rejected_by_reason),
            "duplicates": cleaned.duplicates,
            "drift_new_fields": MetadataValue.json(cleaned.new_fields),
            "drift_missing_fields": MetadataValue.json(cleaned.missing_fields),
        },
    )
