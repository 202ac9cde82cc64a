"""The lake sensor, the failure alert sensor and the freshness check on a real instance and real services."""

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterEventType,
    DagsterInstance,
    build_run_status_sensor_context,
    build_sensor_context,
    evaluate_automation_conditions,
)

from ecommerce_assets.assets import dm_fct_ecommerce, dm_fct_product_changes, ods_fct_products, raw_products_parquet
from ecommerce_assets.checks import FreshnessSettings, expected_partition
from ecommerce_assets.definitions import defs
from ecommerce_assets.lake_keys import snapshot_partition
from ecommerce_assets.resources.alerts import AlertWebhookResource
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets.sensors import raw_snapshot_s3_sensor, run_failure_alert_sensor
from ecommerce_assets_tests.helpers import make_resources, query, run_partition
from ecommerce_catalog_server import CatalogServer, Fault, FaultPlan

pytestmark = pytest.mark.integration


def key_for(partition: str) -> str:
    return f"raw/products/snapshot_date={partition}/products.parquet"


def evaluate_lake_sensor(instance: DagsterInstance, lake: S3LakeResource, cursor: str | None) -> Any:
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"lake": lake})
    return raw_snapshot_s3_sensor(context)


def reported(result: Any) -> list[tuple[str, str]]:
    return [(e.partition, e.metadata["source"].value if "source" in e.metadata else "") for e in result.asset_events]


def test_lake_sensor_records_external_snapshots(dagster_instance: DagsterInstance, any_lake: S3LakeResource,
                                                pg_dsn: str, catalog_server: CatalogServer) -> None:
    lake = any_lake  # moto quotes ETags in listings, rclone does not: the pipeline's own object is known on both
    resources = make_resources(lake, pg_dsn, catalog_server.url)
    automation_start = evaluate_automation_conditions(defs=defs, instance=dagster_instance)  # as the daemon would
    run_partition(resources, "2025-04-01", assets=[raw_products_parquet], instance=dagster_instance)
    client, bucket = lake.client(), lake.bucket_name()
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
    automation = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=automation_start.cursor)
    assert set(automation.get_requested_partitions(AssetKey("ods_fct_products"))) == {"2025-04-01", "2025-04-02"}
    run_partition(resources, "2025-04-02", assets=[ods_fct_products, dm_fct_product_changes, dm_fct_ecommerce],
                  instance=dagster_instance)
    raw_ids = [i for i in table.column("product_id").to_pylist() if i is not None]
    stored = query(pg_dsn, "SELECT count(DISTINCT product_id) FROM ods.fct_products WHERE snapshot_date = '2025-04-02'")
    rejected = query(pg_dsn, "SELECT count(*) FROM ods.rejected_products WHERE snapshot_date = '2025-04-02'")
    assert stored[0][0] + rejected[0][0] == len(set(raw_ids)) + table.num_rows - len(raw_ids)


@pytest.mark.parametrize(
    ("key", "partition"),
    [
        ("raw/products/snapshot_date=2025-04-02/products.parquet", "2025-04-02"),
        ("raw/products/snapshot_date=2025-02-30/products.parquet", None),
        ("raw/products/snapshot_date=2025-04-02/products.parquet.tmp", None),
        ("raw/products/snapshot_date=25-04-02/products.parquet", None),
        ("other/products/snapshot_date=2025-04-02/products.parquet", None),
    ],
)
def test_snapshot_keys(key: str, partition: str | None) -> None:
    assert snapshot_partition(key) == partition


class Receiver:
    """A local HTTP endpoint that records what is POSTed to it and answers `status`."""

    def __init__(self, status: int) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def failed_run(dagster_instance: DagsterInstance, lake: S3LakeResource, pg_dsn: str,
               catalog_server: CatalogServer) -> Iterator[tuple[Any, Any]]:
    catalog_server.state.faults = FaultPlan(every={1: Fault("status", status=500)})
    result = run_partition(make_resources(lake, pg_dsn, catalog_server.url, max_retries=1), "2025-04-05",
                           assets=[raw_products_parquet], instance=dagster_instance, raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.RUN_FAILURE)
    yield dagster_instance.get_run_by_id(result.run_id), failure


@pytest.mark.parametrize("status", [200, 500])
def test_failure_sensor_reports_run_partition_asset_and_error(dagster_instance: DagsterInstance,
                                                             failed_run: tuple[Any, Any], status: int) -> None:
    run, failure = failed_run
    receiver = Receiver(status)
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_event=failure, dagster_instance=dagster_instance,
        dagster_run=run, resources={"alert_webhook": AlertWebhookResource(url=receiver.url, backoff_factor=0.01)},
    ).for_run_failure()
    run_failure_alert_sensor(context)  # a failing webhook must not raise
    expected_posts = 1 if status == 200 else 1 + 3
    assert len(receiver.received) == expected_posts
    message = receiver.received[0]
    assert message["run_id"] == run.run_id
    assert message["partition"] == "2025-04-05"
    assert message["assets"] == ["raw_products_parquet"]
    assert "gave up after 1 retries" in message["errors"][0]
    assert message["text"].startswith(f"Dagster run {run.run_id} of {run.job_name} failed for partition 2025-04-05")
    receiver.server.shutdown()


def test_failure_sensor_without_webhook_only_logs(dagster_instance: DagsterInstance, failed_run: tuple[Any, Any]) -> None:
    run, failure = failed_run
    assert AlertWebhookResource().send({"text": "x"}) == "not configured"
    unreachable = AlertWebhookResource(url="http://127.0.0.1:9/hook", max_retries=0)
    assert unreachable.send({"text": "x"}).startswith("failed")
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_event=failure, dagster_instance=dagster_instance,
        dagster_run=run, resources={"alert_webhook": unreachable},
    ).for_run_failure()
    run_failure_alert_sensor(context)


@pytest.mark.parametrize(
    ("now_utc", "expected"),
    [
        (datetime(2025, 3, 15, 5, 59, tzinfo=UTC), date(2025, 3, 13)),  # 08:59 Moscow: not yet due
        (datetime(2025, 3, 15, 6, 0, tzinfo=UTC), date(2025, 3, 14)),   # 09:00 Moscow: yesterday due
        (datetime(2025, 3, 16, 6, 30, tzinfo=UTC), date(2025, 3, 15)),  # 09:30 Moscow on the 16th
        (datetime(2025, 3, 15, 22, 0, tzinfo=UTC), date(2025, 3, 14)),  # 01:00 Moscow on the 16th
    ],
)
def test_freshness_expected_partition(now_utc: datetime, expected: date) -> None:
    assert expected_partition(now_utc, time(9, 0), ZoneInfo("Europe/Moscow")) == expected


@pytest.mark.parametrize(
    ("now_utc", "deadline", "zone", "expected"),
    [
        # east of UTC+9: the local calendar runs a day ahead of the UTC partitions
        (datetime(2025, 3, 15, 19, 30, tzinfo=UTC), time(9, 0), "Pacific/Kiritimati", date(2025, 3, 14)),  # UTC+14
        (datetime(2025, 3, 15, 0, 0, tzinfo=UTC), time(9, 0), "Asia/Tokyo", date(2025, 3, 14)),            # = 00:00 UTC
        (datetime(2025, 3, 14, 23, 59, tzinfo=UTC), time(9, 0), "Asia/Tokyo", date(2025, 3, 13)),
        (datetime(2025, 3, 15, 23, 30, tzinfo=UTC), time(8, 0), "Asia/Tokyo", date(2025, 3, 14)),          # 15th not over
        # west of UTC
        (datetime(2025, 1, 15, 14, 30, tzinfo=UTC), time(9, 0), "America/New_York", date(2025, 1, 14)),
        (datetime(2025, 1, 16, 3, 0, tzinfo=UTC), time(9, 0), "America/New_York", date(2025, 1, 14)),
        (datetime(2025, 1, 16, 6, 30, tzinfo=UTC), time(20, 0), "Pacific/Honolulu", date(2025, 1, 15)),     # UTC-10
        (datetime(2025, 1, 16, 5, 59, tzinfo=UTC), time(20, 0), "Pacific/Honolulu", date(2025, 1, 14)),
    ],
)
def test_freshness_is_judged_on_utc_partitions_in_any_zone(now_utc: datetime, deadline: time, zone: str,
                                                          expected: date) -> None:
    due = expected_partition(now_utc, deadline, ZoneInfo(zone))
    assert due == expected
    # the partition that is due has ended in UTC by then; the next one has not been due yet
    assert datetime.combine(due + timedelta(days=1), time(0), tzinfo=UTC) <= now_utc


def test_freshness_check_fails_until_yesterdays_mart_exists(dagster_instance: DagsterInstance, pg_dsn: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOM_PG_DSN", pg_dsn)  # the code location's own resources, as deployed
    job = defs.resolve_job_def("dm_freshness_check_job")
    settings = FreshnessSettings(deadline="00:00", deadline_timezone="UTC")
    yesterday = expected_partition(datetime.now(UTC), time(0, 0), ZoneInfo("UTC")).isoformat()

    def evaluate() -> Any:
        result = job.execute_in_process(instance=dagster_instance, resources={"freshness": settings})
        (evaluation,) = result.get_asset_check_evaluations()
        return evaluation

    missing = evaluate()
    assert not missing.passed
    assert missing.metadata["expected_partition"].value == yesterday
    dagster_instance.report_runless_asset_event(AssetMaterialization("dm_fct_ecommerce", partition=yesterday))
    assert evaluate().passed
