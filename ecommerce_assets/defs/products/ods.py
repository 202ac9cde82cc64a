"""ods_fct_products and ods_rejected_products: the typed daily snapshot of every accepted product, and every
record the rules rejected with its reason, in PostgreSQL — one run of the rules writes both."""

from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from datetime import date
from typing import Any

import pyarrow.dataset as pads
from dagster import Any as DagsterAny
from dagster import AssetExecutionContext, AssetIn, MetadataValue, Output, multi_asset
from dagster_duckdb import DuckDBResource

from ecommerce_assets.defs.products.keys import ODS, ODS_TABLE, RAW, REJECTED, REJECTED_TABLE
from ecommerce_assets.defs.products.transforms.rules import CheckedProducts, checked_products
from ecommerce_assets.partition_map import by_partition
from ecommerce_assets.partitions import BACKFILL_POLICY, WAREHOUSE_POOL, daily_partitions
from ecommerce_assets.quarantine import CleanedDay, DayVerdicts, quarantine_out, quarantined_outputs
from ecommerce_assets.retries import STEP_RETRY, heals
from ecommerce_assets.snapshots import stored_record_keys


def day_metadata(checked: CheckedProducts) -> dict[str, Any]:
    """What the rules made of one day (the counts, not the rows), shown on the day's materialization and read
    by the schema-drift check."""
    decided = checked.accepted_rows + checked.rejected.num_rows
    return {
        "raw_records": checked.records,
        "accepted": checked.accepted_rows,
        "rejected": checked.rejected.num_rows,
        "rejected_share": round(checked.rejected.num_rows / decided, 6) if decided else 0.0,
        "rejected_by_reason": MetadataValue.json(dict(checked.rejected_by_reason)),
        "duplicates": checked.duplicates,
        "drift_new_fields": MetadataValue.json(list(checked.new_fields)),
        "drift_missing_fields": MetadataValue.json(list(checked.missing_fields)),
    }


@multi_asset(
    retry_policy=STEP_RETRY,
    name="ods_products",
    outs={
        ODS.to_python_identifier(): quarantine_out(
            ODS, ODS_TABLE,
            "One typed row per accepted product and snapshot date (ods.fct_products, a partition per day)."),
        REJECTED.to_python_identifier(): quarantine_out(
            REJECTED, REJECTED_TABLE,
            "Every record of the day's snapshot the rules rejected, with its reason and its JSON as received "
            "(ods.rejected_products)."),
    },
    # one day's dataset, or for a backfill range a mapping by day (Dagster cannot check such a union itself)
    ins={"raw": AssetIn(key=RAW, input_manager_key="lake_snapshot_input", dagster_type=DagsterAny)},
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    pool=WAREHOUSE_POOL,
)
@heals
def ods_products(context: AssetExecutionContext, raw: pads.Dataset | Mapping[str, pads.Dataset],
                 duckdb: DuckDBResource) -> Iterator[Output[Any]]:
    """The ODS rules applied to each day's raw snapshot: accepted rows stream from DuckDB into the warehouse
    (never the whole day in memory); a run over several days (a backfill range) cleans them one at a time."""
    raws = by_partition(context.partition_keys, raw)

    def clean_day(key: str, day: ExitStack) -> CleanedDay:
        con = day.enter_context(duckdb.get_connection())
        checked = day.enter_context(checked_products(con, raws[key], date.fromisoformat(key), stored_record_keys(raws[key])))

        def verdicts() -> DayVerdicts:  # once the accepted rows have streamed
            warnings = []
            if checked.new_fields or checked.missing_fields:
                warnings.append(f"schema drift: new fields {checked.new_fields}, missing fields {checked.missing_fields}")
            if checked.rejected.num_rows:
                warnings.append(f"rejected {checked.rejected.num_rows} records: {checked.rejected_by_reason}")
            return DayVerdicts(checked.rejected, day_metadata(checked), warnings)

        return CleanedDay(checked.accepted, verdicts)

    yield from quarantined_outputs(context, clean_day, ODS, REJECTED, "rejected")
