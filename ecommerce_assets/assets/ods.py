"""ods_fct_products: the typed daily snapshot of every accepted product, in PostgreSQL."""

from collections.abc import Iterator
from datetime import date
from typing import Any

import pyarrow.dataset as pads
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MetadataValue,
    Output,
    asset,
)
from dagster_duckdb import DuckDBResource

from ecommerce_assets.automation import follows_upstream
from ecommerce_assets.io_managers.postgres_table import PartitionWrite, pg_table_metadata
from ecommerce_assets.partitions import WAREHOUSE_POOL, daily_partitions
from ecommerce_assets.resources.postgres import PostgresResource
from ecommerce_assets.resources.quality import QualitySettings
from ecommerce_assets.sql import load_sql
from ecommerce_assets.transforms.products import clean_products

REJECTED_TABLE = "ods.rejected_products"
ASSET = "ods_fct_products"
CHECKS = [
    AssetCheckSpec("ods_fct_products__rejected_share", asset=ASSET, blocking=True,
                   description="The share of rejected records stays under the threshold (default 5%); "
                               "above it the mart of the day is blocked."),
    AssetCheckSpec("ods_fct_products__rules_hold", asset=ASSET, blocking=True,
                   description="No stored row breaks the NOT NULL / range rules."),
    AssetCheckSpec("ods_fct_products__schema_drift", asset=ASSET,
                   description="Records carry exactly the documented fields (warning, new/missing fields named)."),
]


@asset(
    name=ASSET,
    group_name="ods",
    partitions_def=daily_partitions,
    io_manager_key="postgres_io_manager",
    metadata=pg_table_metadata("ods.fct_products", "snapshot_date"),
    kinds={"duckdb", "postgres"},
    automation_condition=follows_upstream(),
    pool=WAREHOUSE_POOL,
    check_specs=CHECKS,
    description="One typed row per accepted product and snapshot date; rejected records kept with their reason.",
)
def ods_fct_products(
    context: AssetExecutionContext, raw_products_parquet: pads.Dataset, duckdb: DuckDBResource,
    postgres: PostgresResource, quality: QualitySettings,
) -> Iterator[Any]:
    """One typed row per accepted product and snapshot date; rejected records kept with their reason."""
    partition = date.fromisoformat(context.partition_key)
    with duckdb.get_connection() as con:
        cleaned = clean_products(con, raw_products_parquet, partition)
    if cleaned.new_fields or cleaned.missing_fields:
        context.log.warning(f"schema drift: new fields {cleaned.new_fields}, missing fields {cleaned.missing_fields}")
    if cleaned.rejected.num_rows:
        context.log.warning(f"rejected {cleaned.rejected.num_rows} records: {cleaned.rejected_by_reason}")
    yield Output(
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
    # Checked once the partition is stored (the IO manager has written it when the generator resumes).
    threshold = quality.rejected_share()
    yield AssetCheckResult(
        check_name="ods_fct_products__rejected_share",
        passed=cleaned.rejected_share <= threshold,
        severity=AssetCheckSeverity.ERROR,
        metadata={"rejected_share": round(cleaned.rejected_share, 6), "threshold": threshold,
                  "rejected": cleaned.rejected.num_rows, "rejected_by_reason": MetadataValue.json(cleaned.rejected_by_reason)},
    )
    with postgres.connect() as conn:
        row = conn.execute(load_sql("pg/ods_rule_violations.sql"), {"partition": partition}).fetchone()
    violations = dict(zip(("bad_category", "negative_price", "negative_stock", "rating_out_of_range"), row or (), strict=False))
    yield AssetCheckResult(check_name="ods_fct_products__rules_hold", passed=not any(violations.values()),
                           severity=AssetCheckSeverity.ERROR, metadata={k: int(v) for k, v in violations.items()})
    yield AssetCheckResult(
        check_name="ods_fct_products__schema_drift",
        passed=not (cleaned.new_fields or cleaned.missing_fields),
        severity=AssetCheckSeverity.WARN,
        metadata={"new_fields": MetadataValue.json(cleaned.new_fields),
                  "missing_fields": MetadataValue.json(cleaned.missing_fields)},
    )
