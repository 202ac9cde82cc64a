"""ods_fct_products: the typed daily snapshot of every accepted product, in PostgreSQL."""

from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
from dagster import Any as DagsterAny
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
    Output,
    asset,
)
from dagster_duckdb import DuckDBResource

from ecommerce_assets.automation import follows_upstream
from ecommerce_assets.io_managers.partition_map import LazyPartitions, combine_check_results, per_partition
from ecommerce_assets.io_managers.pg_partitions import TableName, retire_days
from ecommerce_assets.io_managers.postgres_table import PartitionWrite, pg_table_metadata
from ecommerce_assets.io_managers.row_stream import RowStream
from ecommerce_assets.partitions import BACKFILL_POLICY, WAREHOUSE_POOL, daily_partitions
from ecommerce_assets.resources.postgres import PostgresResource
from ecommerce_assets.resources.quality_settings import QualitySettings
from ecommerce_assets.resources.retention import RetentionSettings
from ecommerce_assets.sql import load_sql
from ecommerce_assets.transforms.products import CheckedProducts, checked_products

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


@dataclass(frozen=True)
class DaySummary:
    """What the rules made of one day's raw snapshot (the counts, not the rows)."""

    records: int
    accepted: int
    rejected: int
    duplicates: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    new_fields: list[str] = field(default_factory=list)
    missing_fields: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, checked: CheckedProducts) -> "DaySummary":
        return cls(checked.records, checked.accepted_rows, checked.rejected.num_rows, checked.duplicates,
                   dict(checked.rejected_by_reason), list(checked.new_fields), list(checked.missing_fields))

    @property
    def rejected_share(self) -> float:
        decided = self.accepted + self.rejected
        return self.rejected / decided if decided else 0.0

    def metadata(self) -> dict[str, Any]:
        return {
            "raw_records": self.records,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejected_share": round(self.rejected_share, 6),
            "rejected_by_reason": MetadataValue.json(self.rejected_by_reason),
            "duplicates": self.duplicates,
            "drift_new_fields": MetadataValue.json(self.new_fields),
            "drift_missing_fields": MetadataValue.json(self.missing_fields),
        }


def stored_partition_checks(postgres: PostgresResource, partition: date, day: DaySummary) -> Iterator[AssetCheckResult]:
    """Checks computed from what the warehouse now holds for the partition, not from what was sent."""
    with postgres.connect() as conn:
        stored = conn.execute(load_sql("pg/ods_stored_counts.sql"), {"partition": partition}).fetchone() or (0, 0)
        violations = conn.execute(load_sql("pg/ods_rule_violations.sql"), {"partition": partition}).fetchone()
    accepted, rejected = int(stored[0]), int(stored[1])
    accounted = accepted + rejected + day.duplicates
    passed = accounted == day.records and accepted == day.accepted
    yield AssetCheckResult(
        check_name="ods_fct_products__accounts_for_every_record", passed=passed, severity=AssetCheckSeverity.ERROR,
        description=None if passed else (
            f"{day.records} raw records but {accepted} stored rows + {rejected} rejected + {day.duplicates} "
            f"superseded duplicates = {accounted}; the rules accepted {day.accepted} rows"),
        metadata={"raw_records": day.records, "stored_rows": accepted, "stored_rejected": rejected,
                  "superseded_duplicates": day.duplicates, "accepted_by_rules": day.accepted},
    )
    counts = {name: int(v) for name, v in zip(("untrimmed_category", "tags_not_text_list"), violations or (0, 0),
                                               strict=True)}
    yield AssetCheckResult(check_name="ods_fct_products__rules_hold", passed=not any(counts.values()),
                           severity=AssetCheckSeverity.ERROR, metadata=dict(counts))


def day_checks(postgres: PostgresResource, partition: date, day: DaySummary, threshold: float) -> list[AssetCheckResult]:
    """Every check of one stored day."""
    return [
        AssetCheckResult(
            check_name="ods_fct_products__rejected_share",
            passed=day.rejected_share <= threshold,
            severity=AssetCheckSeverity.ERROR,
            metadata={"rejected_share": round(day.rejected_share, 6), "threshold": threshold,
                      "rejected": day.rejected, "rejected_by_reason": MetadataValue.json(day.rejected_by_reason)},
        ),
        *stored_partition_checks(postgres, partition, day),
        AssetCheckResult(
            check_name="ods_fct_products__schema_drift",
            passed=not (day.new_fields or day.missing_fields),
            severity=AssetCheckSeverity.WARN,
            metadata={"new_fields": MetadataValue.json(day.new_fields),
                      "missing_fields": MetadataValue.json(day.missing_fields)},
        ),
    ]


@asset(
    name=ASSET,
    group_name="ods",
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    io_manager_key="postgres_io_manager",
    # one day's dataset, or for a backfill range a mapping by day (Dagster cannot check such a union itself)
    ins={"raw_products_parquet": AssetIn(dagster_type=DagsterAny)},
    metadata=pg_table_metadata(ODS_TABLE, "snapshot_date"),
    kinds={"duckdb", "postgres"},
    automation_condition=follows_upstream(),
    pool=WAREHOUSE_POOL,
    check_specs=CHECKS,
    description="One typed row per accepted product and snapshot date; rejected records kept with their reason.",
)
def ods_fct_products(
    context: AssetExecutionContext, raw_products_parquet: pads.Dataset | Mapping[str, pads.Dataset],
    duckdb: DuckDBResource, postgres: PostgresResource, quality: QualitySettings, retention: RetentionSettings,
) -> Iterator[Any]:
    """One typed row per accepted product and snapshot date; rejected records kept with their reason. A run
    over several days (a backfill range) cleans and writes them one at a time."""
    keys = context.partition_keys
    raws = per_partition(keys, raw_products_parquet)
    days: dict[str, DaySummary] = {}

    def clean(key: str) -> PartitionWrite:
        """The day's rows as a stream from DuckDB, whose connection stays open until they have been read."""
        opened = ExitStack()
        con = opened.enter_context(duckdb.get_connection())
        checked = opened.enter_context(checked_products(con, raws[key], date.fromisoformat(key)))
        where = "" if len(keys) == 1 else f"{key}: "
        if checked.new_fields or checked.missing_fields:
            context.log.warning(f"{where}schema drift: new fields {checked.new_fields}, missing fields {checked.missing_fields}")
        if checked.rejected.num_rows:
            context.log.warning(f"{where}rejected {checked.rejected.num_rows} records: {checked.rejected_by_reason}")
        days[key] = DaySummary.of(checked)

        def rows() -> Iterator[pa.RecordBatch]:
            with opened:
                yield from checked.batches

        return PartitionWrite(rows=RowStream(checked.schema, rows()), side_tables={REJECTED_TABLE: checked.rejected})

    if len(keys) == 1:
        write = clean(keys[0])
        yield Output({keys[0]: write}, metadata=days[keys[0]].metadata())
    else:  # a range: each day cleaned when the IO manager writes it, so one day at a time is in memory
        yield Output(LazyPartitions(keys, clean), metadata={"partitions": len(keys), "first": keys[0], "last": keys[-1]})
    # Checked once the partitions are stored (the IO manager has written them when the generator resumes).
    threshold = quality.rejected_share()
    per_day = {key: day_checks(postgres, date.fromisoformat(key), days[key], threshold) for key in keys}
    for index in range(len(CHECKS)):
        yield combine_check_results({key: results[index] for key, results in per_day.items()})
    if retention.ods_days:
        with postgres.connect() as conn:
            dropped = retire_days(conn, TableName.parse(ODS_TABLE), retention.ods_days, date.fromisoformat(keys[-1]),
                                  [TableName.parse(REJECTED_TABLE)], "snapshot_date")
        if dropped:
            context.log.info(f"retention of {retention.ods_days} days: dropped the ODS days "
                             f"{', '.join(d.isoformat() for d in dropped)} (their raw snapshots stay in the lake)")
