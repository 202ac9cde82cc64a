"""The sales domain's ODS: every line of every accepted cart (ods_fct_cart_lines) with the rejected carts
(ods_rejected_carts), and the users of each day (ods_dim_customers) with the rejected ones
(ods_rejected_users) — one run of the rules writes both tables of a pair."""

from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from datetime import date
from typing import Any

import pyarrow.dataset as pads
from dagster import Any as DagsterAny
from dagster import AssetExecutionContext, AssetIn, MetadataValue, Output, multi_asset
from dagster_duckdb import DuckDBResource

from ecommerce_assets.defs.sales.keys import (
    CART_LINES,
    CART_LINES_TABLE,
    CUSTOMERS,
    CUSTOMERS_TABLE,
    RAW_CARTS,
    RAW_USERS,
    REJECTED_CARTS,
    REJECTED_CARTS_TABLE,
    REJECTED_USERS,
    REJECTED_USERS_TABLE,
)
from ecommerce_assets.defs.sales.transforms.carts import CheckedCarts, checked_carts
from ecommerce_assets.defs.sales.transforms.customers import checked_customers
from ecommerce_assets.partition_map import by_partition
from ecommerce_assets.partitions import BACKFILL_POLICY, WAREHOUSE_POOL, daily_partitions
from ecommerce_assets.quarantine import CleanedDay, DayVerdicts, quarantine_out, quarantined_outputs
from ecommerce_assets.retries import STEP_RETRY, heals


def cart_metadata(checked: CheckedCarts) -> dict[str, Any]:
    return {
        "raw_records": checked.records,
        "carts": checked.carts,
        "raw_lines": checked.raw_lines,
        "accepted_lines": checked.accepted_lines,
        "rejected_carts": checked.rejected.num_rows,
        "rejected_lines": sum(checked.rejected.column("lines").to_pylist()),
        "superseded_lines": checked.superseded_lines,
        "rejected_by_reason": MetadataValue.json(dict(checked.rejected_by_reason)),
    }


@multi_asset(
    retry_policy=STEP_RETRY,
    name="ods_carts",
    outs={
        CART_LINES.to_python_identifier(): quarantine_out(
            CART_LINES, CART_LINES_TABLE,
            "One typed row per line of every accepted cart and snapshot date (ods.fct_cart_lines, a partition per "
            "day)."),
        REJECTED_CARTS.to_python_identifier(): quarantine_out(
            REJECTED_CARTS, REJECTED_CARTS_TABLE,
            "Every cart of the day's snapshot the rules rejected, whole: its reason, its line count and its JSON "
            "as received (ods.rejected_carts)."),
    },
    ins={"raw": AssetIn(key=RAW_CARTS, input_manager_key="lake_snapshot_input", dagster_type=DagsterAny)},
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    pool=WAREHOUSE_POOL,
)
@heals
def ods_carts(context: AssetExecutionContext, raw: pads.Dataset | Mapping[str, pads.Dataset],
              duckdb: DuckDBResource) -> Iterator[Output[Any]]:
    """The cart rules applied to each day's raw snapshot; the accepted lines stream into the warehouse."""
    raws = by_partition(context.partition_keys, raw)

    def clean_day(key: str, day: ExitStack) -> CleanedDay:
        con = day.enter_context(duckdb.get_connection())
        checked = day.enter_context(checked_carts(con, raws[key], date.fromisoformat(key)))
        warnings = ([f"rejected {checked.rejected.num_rows} carts: {checked.rejected_by_reason}"]
                    if checked.rejected.num_rows else [])
        return CleanedDay(checked.lines, lambda: DayVerdicts(checked.rejected, cart_metadata(checked), warnings))

    yield from quarantined_outputs(context, clean_day, CART_LINES, REJECTED_CARTS, "rejected_carts")


@multi_asset(
    retry_policy=STEP_RETRY,
    name="ods_customers",
    outs={
        CUSTOMERS.to_python_identifier(): quarantine_out(
            CUSTOMERS, CUSTOMERS_TABLE,
            "The day's users as customers (ods.dim_customers, a partition per day): id, customer_key, age, gender, "
            "role, city, state, country — nothing personal."),
        REJECTED_USERS.to_python_identifier(): quarantine_out(
            REJECTED_USERS, REJECTED_USERS_TABLE,
            "Every user of the day's snapshot the rules rejected: the reason only (ods.rejected_users)."),
    },
    ins={"raw": AssetIn(key=RAW_USERS, input_manager_key="lake_snapshot_input", dagster_type=DagsterAny)},
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    pool=WAREHOUSE_POOL,
)
@heals
def ods_customers(context: AssetExecutionContext, raw: pads.Dataset | Mapping[str, pads.Dataset],
                  duckdb: DuckDBResource) -> Iterator[Output[Any]]:
    """The user rules applied to each day's reduced raw snapshot."""
    raws = by_partition(context.partition_keys, raw)

    def clean_day(key: str, day: ExitStack) -> CleanedDay:
        with duckdb.get_connection() as con:
            checked = checked_customers(con, raws[key], date.fromisoformat(key))
        warnings = ([f"rejected {checked.rejected.num_rows} users: {checked.rejected_by_reason}"]
                    if checked.rejected.num_rows else [])
        metadata = {"raw_records": checked.records, "accepted": checked.accepted.num_rows,
                    "rejected": checked.rejected.num_rows, "duplicates": checked.duplicates,
                    "rejected_by_reason": MetadataValue.json(dict(checked.rejected_by_reason))}
        return CleanedDay(checked.accepted, lambda: DayVerdicts(checked.rejected, metadata, warnings))

    yield from quarantined_outputs(context, clean_day, CUSTOMERS, REJECTED_USERS, "rejected")
