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
from ecommerce_assets.io_managers.pg_partitions import TableName, retire_days
from ecommerce_assets.io_managers.postgres_table import PartitionWrite, pg_table_metadata
from ecommerce_assets.partitions import WAREHOUSE_POOL, daily_partitions
from ecommerce_assets.resources.postgres import PostgresResource
from ecommerce_assets.resources.quality_settings import QualitySettings
from ecommerce_assets.resources.retention import RetentionSettings
from ecommerce_assets.sql import load_sql
from ecommerce_assets.transforms.products import CleanedProducts, clean_products

ODS_TABLE = "ods.fct_products"
REJECTED_TABLE = "ods.rejected_products"
ASSET = "ods_fct_products"
CHECKS = [
    # Not blocking: the mart holds the same gate itself, with the override someone who looked may give
    # (`accept_rejected_share`), so a run of the whole chain says what to do in the same run.
    AssetCheckSpec("ods_fct_products__rejected_share", asset=ASSET,
                   description="The share of rejected records stays under the threshold (default 5%); "
                               "above it the mart refuses the day unless accept_rejected_share is set."),
    AssetCheckSpec("ods_fct_products__accounts_for_every_record", asset=ASSET, blocking=True,
                   description="Stored accepted rows + stored rejected records + superseded duplicates = raw "
                               "records, and the stored rows are the rows the rules accepted: nothing lost."),
    AssetCheckSpec("ods_fct_products__rules_hold", asset=ASSET, blocking=True,
                   description="No stored row breaks a rule the table's constraints do not enforce (categories "
                               "trimmed, tags a list of texts)."),
    AssetCheckSpec("ods_fct_products__schema_drift", asset=ASSET,
                   description="Records carry exactly the documented fields (warning, new/missing fields named)."),
]


def stored_partition_checks(postgres: PostgresResource, partition: date,
                            cleaned: CleanedProducts) -> Iterator[AssetCheckResult]:
    """Checks computed from what the warehouse now holds for the partition, not from what was sent."""
    with postgres.connect() as conn:
        stored = conn.execute(load_sql("pg/ods_stored_counts.sql"), {"partition": partition}).fetchone() or (0, 0)
        violations = conn.execute(load_sql("pg/ods_rule_violations.sql"), {"partition": partition}).fetchone()
    accepted, rejected = int(stored[0]), int(stored[1])
    accounted = accepted + rejected + cleaned.duplicates
    passed = accounted == cleaned.records and accepted == cleaned.accepted.num_rows
    yield AssetCheckResult(
        check_name="ods_fct_products__accounts_for_every_record", passed=passed, severity=AssetCheckSeverity.ERROR,
        description=None if passed else (
            f"{cleaned.records} raw records but {accepted} stored rows + {rejected} rejected + {cleaned.duplicates} "
            f"superseded duplicates = {accounted}; the rules accepted {cleaned.accepted.num_rows} rows"),
        metadata={"raw_records": cleaned.records, "stored_rows": accepted, "stored_rejected": rejected,
                  "superseded_duplicates": cleaned.duplicates, "accepted_by_rules": cleaned.accepted.num_rows},
    )
    counts = {name: int(v) for name, v in zip(("untrimmed_category", "tags_not_text_list"), violations or (0, 0),
                                               strict=True)}
    yield AssetCheckResult(check_name="ods_fct_products__rules_hold", passed=not any(counts.values()),
                           severity=AssetCheckSeverity.ERROR, metadata=dict(counts))


@asset(
    name=ASSET,
    group_name="ods",
    partitions_def=daily_partitions,
    io_manager_key="postgres_io_manager",
    metadata=pg_table_metadata(ODS_TABLE, "snapshot_date"),
    kinds={"duckdb", "postgres"},
    automation_condition=follows_upstream(),
    pool=WAREHOUSE_POOL,
    check_specs=CHECKS,
    description="One typed row per accepted product and snapshot date; rejected records kept with their reason.",
)
def ods_fct_products(
    context: AssetExecutionContext, raw_products_parquet: pads.Dataset, duckdb: DuckDBResource,
    postgres: PostgresResource, quality: QualitySettings, retention: RetentionSettings,
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
    yield from stored_partition_checks(postgres, partition, cleaned)
    if retention.ods_days:
        with postgres.connect() as conn:
            dropped = retire_days(conn, TableName.parse(ODS_TABLE), retention.ods_days, partition,
                                  [TableName.parse(REJECTED_TABLE)], "snapshot_date")
        if dropped:
            context.log.info(f"retention of {retention.ods_days} days: dropped the ODS days "
                             f"{', '.join(d.isoformat() for d in dropped)} (their raw snapshots stay in the lake)")
    yield AssetCheckResult(
        check_name="ods_fct_products__schema_drift",
        passed=not (cleaned.new_fields or cleaned.missing_fields),
        severity=AssetCheckSeverity.WARN,
        metadata={"new_fields": MetadataValue.json(cleaned.new_fields),
                  "missing_fields": MetadataValue.json(cleaned.missing_fields)},
    )
