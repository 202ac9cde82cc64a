"""Automation with a real PostgreSQL-backed instance and real materialization events."""

from datetime import UTC, datetime
from typing import Any

import pytest
from dagster import AssetKey, DagsterInstance, build_schedule_context, evaluate_automation_conditions

from ecommerce_assets.assets import raw_products_parquet
from ecommerce_assets.definitions import defs
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets.schedules import raw_products_daily_schedule
from ecommerce_assets_tests.helpers import make_resources, run_partition
from ecommerce_catalog_server import CatalogServer, Fault, FaultPlan

pytestmark = pytest.mark.integration

ODS, DM = AssetKey("ods_fct_products"), AssetKey("dm_fct_ecommerce")


def requested(result: Any) -> dict[str, set[str | None]]:
    keys = (ODS, AssetKey("dm_fct_product_changes"), DM, AssetKey("dm_dim_product_history"))
    return {key.to_user_string(): set(result.get_requested_partitions(key)) for key in keys
            if result.get_num_requested(key)}


def test_any_raw_partition_requests_its_ods_and_mart_once(dagster_instance: DagsterInstance, lake: S3LakeResource,
                                                          pg_dsn: str, catalog_server: CatalogServer) -> None:
    resources = make_resources(lake, pg_dsn, catalog_server.url)
    first = evaluate_automation_conditions(defs=defs, instance=dagster_instance)
    assert first.total_requested == 0  # nothing materialized yet: nothing to follow

    # A historical partition (far outside the latest time window) and a recent one.
    for partition in ("2025-02-03", "2025-06-30"):
        run_partition(resources, partition, assets=[raw_products_parquet], instance=dagster_instance)
    second = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=first.cursor)
    # ODS, changes and mart in one go; the history only once these have landed
    assert requested(second) == {"ods_fct_products": {"2025-02-03", "2025-06-30"},
                                 "dm_fct_product_changes": {"2025-02-03", "2025-06-30"},
                                 "dm_fct_ecommerce": {"2025-02-03", "2025-06-30"}}

    # Evaluated again without anything new: nothing more is requested.
    third = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=second.cursor)
    assert third.total_requested == 0


def test_failed_upstream_requests_nothing(dagster_instance: DagsterInstance, lake: S3LakeResource, pg_dsn: str,
                                          catalog_server: CatalogServer) -> None:
    first = evaluate_automation_conditions(defs=defs, instance=dagster_instance)
    catalog_server.state.faults = FaultPlan(every={1: Fault("status", status=500)})
    resources = make_resources(lake, pg_dsn, catalog_server.url, max_retries=1)
    result = run_partition(resources, "2025-02-04", assets=[raw_products_parquet], instance=dagster_instance,
                           raise_on_error=False)
    assert not result.success
    second = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=first.cursor)
    assert second.total_requested == 0


def test_whole_chain_run_is_not_followed_by_a_second(dagster_instance: DagsterInstance, lake: S3LakeResource,
                                                     pg_dsn: str, catalog_server: CatalogServer) -> None:
    first = evaluate_automation_conditions(defs=defs, instance=dagster_instance)
    run_partition(make_resources(lake, pg_dsn, catalog_server.url), "2025-02-05", instance=dagster_instance)
    second = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=first.cursor)
    # nothing of the chain again; only the history, which follows ODS updates and is not part of the chain
    assert requested(second) == {"dm_dim_product_history": {None}}
    third = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=second.cursor)
    assert third.total_requested == 0  # requested once, not again while it has not run


@pytest.mark.parametrize(
    ("scheduled_utc", "partition"),
    [
        (datetime(2025, 3, 15, 2, 0, tzinfo=UTC), "2025-03-14"),   # 05:00 Moscow
        (datetime(2025, 1, 1, 2, 0, tzinfo=UTC), "2024-12-31"),
    ],
)
def test_daily_schedule_requests_the_day_that_just_ended(scheduled_utc: datetime, partition: str) -> None:
    context = build_schedule_context(scheduled_execution_time=scheduled_utc)
    request = raw_products_daily_schedule(context)
    assert request.partition_key == partition
    assert request.run_key == partition
    assert raw_products_daily_schedule.cron_schedule == "0 5 * * *"
    assert raw_products_daily_schedule.execution_timezone == "Europe/Moscow"
