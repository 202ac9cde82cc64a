"""The lake sensor and the failure alert sensor on a real instance and real services."""

import io
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    build_run_status_sensor_context,
    build_sensor_context,
    evaluate_automation_conditions,
)
from dagster._core.utils import make_new_run_id

from ecommerce_assets.definitions import build_defs
from ecommerce_assets.defs.products.keys import CHANGES, MART, ODS, RAW
from ecommerce_assets.defs.products.snapshot import PRODUCTS
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.resources.alerts import AlertWebhookResource
from ecommerce_assets.resources.quality_settings import HealingSettings
from ecommerce_assets.sensors import run_failure_alert_sensor
from ecommerce_assets.snapshots import lake_snapshot_sensor
from ecommerce_assets_tests.support.helpers import make_resources, query, run_partition
from ecommerce_assets_tests.support.http_servers import receiving
from ecommerce_catalog_server import CatalogServer, Fault, FaultPlan


def key_for(partition: str) -> str:
    return f"raw/products/snapshot_date={partition}/products.parquet"


def evaluate_lake_sensor(instance: DagsterInstance, lake: LakeResource, cursor: str | None) -> Any:
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"lake": lake})
    return lake_snapshot_sensor([PRODUCTS])(context)


def reported(result: Any) -> list[tuple[str, str]]:
    return [(e.partition, e.metadata["source"].value if "source" in e.metadata else "") for e in result.asset_events]


def test_lake_sensor_waits_for_the_runs_of_the_day_before_judging_an_object(
        dagster_instance: DagsterInstance, lake: LakeResource) -> None:
    """The pipeline publishes its object a moment before its materialization records the object's ETag: a tick in
    between must not report the pipeline's write as another system's. While a run of the day is queued or
    running, an unknown object of that day waits; once the runs have ended, it is judged."""
    client, bucket = lake.get_client(), lake.bucket
    client.put_object(Bucket=bucket, Key=key_for("2025-04-05"), Body=b"PAR1 written by a run not yet recorded")
    running = dagster_instance.add_run(DagsterRun(job_name="__ASSET_JOB", run_id=make_new_run_id(),
                                                  status=DagsterRunStatus.STARTED,
                                                  tags={"dagster/partition": "2025-04-05"}))
    waiting = evaluate_lake_sensor(dagster_instance, lake, None)
    assert waiting.asset_events == []
    dagster_instance.report_run_failed(running)
    judged = evaluate_lake_sensor(dagster_instance, lake, waiting.cursor)
    assert reported(judged) == [("2025-04-05", "external")]


def test_lake_sensor_records_external_snapshots(dagster_instance: DagsterInstance, any_lake: LakeResource,
                                                pg_dsn: str, catalog_server: CatalogServer) -> None:
    lake = any_lake  # moto quotes ETags in listings, rclone does not: the pipeline's own object is known on both
    resources = make_resources(lake, pg_dsn, catalog_server.url)
    automation_start = evaluate_automation_conditions(defs=build_defs(resources), instance=dagster_instance)  # as the daemon
    run_partition(resources, "2025-04-01", assets=[RAW], instance=dagster_instance)
    client, bucket = lake.get_client(), lake.bucket
    pipeline_bytes = client.get_object(Bucket=bucket, Key=key_for("2025-04-01"))["Body"].read()

    # The pipeline's own object is known by its ETag: nothing to report.
    first = evaluate_lake_sensor(dagster_instance, lake, None)
    assert first.asset_events == []

    # Another system drops a snapshot for another day, and some keys that are not snapshots.
    client.put_object(Bucket=bucket, Key=key_for("2025-04-02"), Body=pipeline_bytes)
    for bad in ("raw/products/snapshot_date=2025-13-01/products.parquet", "raw/products/readme.txt",
                "raw/products/snapshot_date=1999-01-01/products.parquet",
                "raw/products/snapshot_date=2025-04-03/other.parquet"):
        client.put_object(Bucket=bucket, Key=bad, Body=b"x")
    second = evaluate_lake_sensor(dagster_instance, lake, first.cursor)
    assert reported(second) == [("2025-04-02", "external")]
    for event in second.asset_events:
        dagster_instance.report_runless_asset_event(event)

    # Nothing new: nothing reported.
    third = evaluate_lake_sensor(dagster_instance, lake, second.cursor)
    assert third.asset_events == []

    # The external snapshot is replaced: reported again.
    table = pq.read_table(io.BytesIO(pipeline_bytes)).slice(0, 100)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    client.put_object(Bucket=bucket, Key=key_for("2025-04-02"), Body=buffer.getvalue())
    fourth = evaluate_lake_sensor(dagster_instance, lake, third.cursor)
    assert reported(fourth) == [("2025-04-02", "external")]
    for event in fourth.asset_events:
        dagster_instance.report_runless_asset_event(event)

    # The reported snapshot makes ODS and mart of that day due, and they build from it.
    automation = evaluate_automation_conditions(defs=build_defs(resources), instance=dagster_instance,
                                                cursor=automation_start.cursor)
    assert set(automation.get_requested_partitions(AssetKey("ods_fct_products"))) == {"2025-04-01", "2025-04-02"}
    run_partition(resources, "2025-04-02", assets=[ODS, CHANGES, MART],
                  instance=dagster_instance)
    raw_ids = [i for i in table.column("product_id").to_pylist() if i is not None]
    stored = query(pg_dsn, "SELECT count(DISTINCT product_id) FROM ods.fct_products WHERE snapshot_date = '2025-04-02'")
    rejected = query(pg_dsn, "SELECT count(*) FROM ods.rejected_products WHERE snapshot_date = '2025-04-02'")
    assert stored[0][0] + rejected[0][0] == len(set(raw_ids)) + table.num_rows - len(raw_ids)


@pytest.fixture
def failed_run(dagster_instance: DagsterInstance, lake: LakeResource, pg_dsn: str,
               catalog_server: CatalogServer) -> Iterator[tuple[Any, Any]]:
    catalog_server.state.faults = FaultPlan(every={1: Fault("status", status=500)})
    result = run_partition(make_resources(lake, pg_dsn, catalog_server.url, max_retries=1), "2025-04-05",
                           assets=[RAW], instance=dagster_instance, raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.RUN_FAILURE)
    yield dagster_instance.get_run_by_id(result.run_id), failure


@pytest.mark.parametrize("status", [200, 500])
def test_failure_sensor_reports_run_partition_asset_and_error(dagster_instance: DagsterInstance,
                                                             failed_run: tuple[Any, Any], status: int) -> None:
    run, failure = failed_run
    with receiving(status) as receiver:
        context = build_run_status_sensor_context(
            sensor_name="run_failure_alert_sensor", dagster_event=failure, dagster_instance=dagster_instance,
            dagster_run=run, resources={"alert_webhook": AlertWebhookResource(url=receiver.url, backoff_factor=0.01),
                                        "healing": HealingSettings(window_hours=0)},  # re-runs off: alerted at once
        ).for_run_failure()
        run_failure_alert_sensor()(context)  # a failing webhook must not raise
    expected_posts = 1 if status == 200 else 1 + 3
    assert len(receiver.received) == expected_posts
    message = receiver.received[0]
    assert message["run_id"] == run.run_id
    assert message["partition"] == "2025-04-05"
    assert message["assets"] == ["raw_products_parquet"]
    assert "gave up after 1 retries" in message["errors"][0]
    assert message["text"].startswith(f"Dagster run {run.run_id} of {run.job_name} failed for partition 2025-04-05")


def test_failure_sensor_without_webhook_only_logs(dagster_instance: DagsterInstance, failed_run: tuple[Any, Any]) -> None:
    run, failure = failed_run
    assert AlertWebhookResource().send({"text": "x"}) == "not configured"
    unreachable = AlertWebhookResource(url="http://127.0.0.1:9/hook", max_retries=0)
    assert unreachable.send({"text": "x"}).startswith("failed")
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_event=failure, dagster_instance=dagster_instance,
        dagster_run=run, resources={"alert_webhook": unreachable, "healing": HealingSettings()},
    ).for_run_failure()
    run_failure_alert_sensor()(context)


