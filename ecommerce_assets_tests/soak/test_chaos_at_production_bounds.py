"""Chaos at the durations a night of flaky infrastructure brings, with the production bounds (5 step retries, 5 s
doubling ±50%; failed days run again after 2, 4, 8 … minutes for 6 hours; sensors at their production
intervals) and real servers going down — not a proxy: the warehouse is a PostgreSQL server of its own, stopped
(`pg_ctl stop -m fast`) and started again; the lake an S3 server over a folder whose process is stopped and
started again. Each day's run is submitted as the schedule's are (queued through the webserver's GraphQL,
executed by the daemon).

Day 1: the API answers 503 to everything for 150 s from the fetch's first request; day 2: the warehouse stops
for 60 s while the day's ODS load waits on a lock (so the stop lands in the middle of it); day 3: the S3 server
is down for 45 s from the moment the run starts, before its raw write; day 4: no fault; day 5: half the catalog invalid (permanent). Days 1–4
must equal the oracle within 15 minutes of the first fault with no alert and no person; day 5 fails, is not run
again, and alerts once.

About ten minutes: the soak tier, outside the ten-minute suite (`./scripts/test.sh --soak`)."""

import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterEventType, DagsterRunStatus, RunsFilter

from ecommerce_assets.healing import HEALS_TAG
from ecommerce_assets.lake import LakeResource
from ecommerce_assets_tests.support import history_oracle as oracle
from ecommerce_assets_tests.support.dagster_processes import dagster_stack, sensor_has_ticked, wait_for
from ecommerce_assets_tests.support.helpers import expected_mart, expected_ods, query
from ecommerce_assets_tests.support.http_servers import receiving
from ecommerce_assets_tests.support.restartable import RestartablePostgres, restartable_postgres, restartable_s3
from ecommerce_assets_tests.system.test_chaos import (
    PRODUCTS,
    _ticks_after,
    api_down_for,
    day_done,
    for_a_while,
    half_invalid,
    once_started,
    submit,
)
from ecommerce_assets_tests.system.test_daemon_e2e import CHANGES, INTERVALS, MART
from ecommerce_catalog_server import CatalogServer
from ecommerce_catalog_server.daily import DailyCatalog

API_OUTAGE_SECONDS = 150
WAREHOUSE_STOPPED_SECONDS = 60
S3_DOWN_SECONDS = 45
WITHIN_SECONDS = 15 * 60
FIRST = datetime.now(UTC).date() - timedelta(days=5)
DAYS = [FIRST + timedelta(days=n) for n in range(5)]
PRODUCTION = {"ECOM_STEP_RETRIES": "5", "ECOM_HEAL_WINDOW": "6.0", "ECOM_HEAL_FIRST_DELAY": "2.0",
              "ECOM_SENSOR_INTERVAL_SCALE": "1.0", "ECOM_MAX_REJECTED_SHARE": "0.05"}


def stop_during_the_ods_load(warehouse: RestartablePostgres, seconds: float) -> None:
    """Hold a lock the ODS load needs, wait until the load waits on it, then stop the server (the load's
    session is terminated mid-statement) and start it again `seconds` later."""
    blocker = psycopg.connect(warehouse.uri)
    try:
        blocker.execute("LOCK TABLE ods.fct_products IN SHARE MODE")
        warehouse.wait_for_a_session("wait_event_type = 'Lock'", "day 2's ODS load")
        warehouse.down_for(seconds)  # the blocker's session ends with every other one
    finally:
        blocker.close()  # no COMMIT: its server is gone


@pytest.mark.timeout(WITHIN_SECONDS + 600)
def test_five_days_through_real_outages_heal_by_themselves_within_15_minutes(tmp_path: Path, pg_dsn: str) -> None:
    bucket = f"soak-{uuid.uuid4().hex[:12]}"
    with receiving(200) as receiver, restartable_postgres(tmp_path / "warehouse") as warehouse, \
            restartable_s3(tmp_path / "lake", bucket) as s3, \
            CatalogServer(DailyCatalog(PRODUCTS, DAYS[0])) as server:
        lake = LakeResource(bucket=bucket, endpoint_url=s3.endpoint_url)
        env = {**PRODUCTION, "ECOM_PG_DSN": warehouse.uri, "ECOM_ALERT_WEBHOOK_URL": receiver.url,
               "AWS_ACCESS_KEY_ID": s3.credentials[0], "AWS_SECRET_ACCESS_KEY": s3.credentials[1],
               "AWS_REGION": "us-east-1"}
        with dagster_stack(tmp_path, pg_dsn, lake, server.url, webserver=True, extra_env=env) as stack:
            instance = stack.instance
            wait_for(lambda: sensor_has_ticked(instance, "heal_sensor"), 240, "heal_sensor's first tick", stack.log)
            snapshots = {}
            started = time.monotonic()
            for day in DAYS[:4]:
                catalog = DailyCatalog(PRODUCTS, day)
                server.state.catalog = catalog
                snapshots[day] = oracle.snapshot(catalog.page(0, catalog.total()))
                if day == DAYS[0]:
                    api_down_for(server, API_OUTAGE_SECONDS)  # from the fetch's first request
                run_id = submit(stack, day)
                if day == DAYS[2]:  # from the moment the daemon starts the run, before its raw write
                    once_started(stack, run_id, lambda: for_a_while(s3.stop, s3.start, S3_DOWN_SECONDS))
                if day == DAYS[1]:
                    stop_during_the_ods_load(warehouse, WAREHOUSE_STOPPED_SECONDS)

                def done(day: date = day) -> bool:
                    try:
                        return day_done(warehouse.uri, day)
                    except psycopg.OperationalError:
                        return False  # the warehouse is stopped

                wait_for(done, WITHIN_SECONDS - (time.monotonic() - started), f"the mart of {day}", stack.log,
                         instance)

            def settled() -> bool:
                try:
                    return (all(day_done(warehouse.uri, day) for day in DAYS[:4])
                            and query(warehouse.uri, "SELECT count(*) FROM meta.applied_loads "
                                                     "WHERE consumer = 'dm.dim_product_history'") == [(4,)]
                            and set(query(warehouse.uri, CHANGES)) == oracle.all_changes(snapshots))
                except psycopg.OperationalError:
                    return False  # the warehouse is stopped

            wait_for(settled, WITHIN_SECONDS - (time.monotonic() - started), "days 1-4, exact, within 15 minutes",
                     stack.log, instance)
            healed_after = time.monotonic() - started
            print(f"days 1-4 exact {healed_after:.0f} s after the first fault")
            expected_changes = oracle.all_changes(snapshots)
            assert set(query(warehouse.uri, INTERVALS)) == oracle.intervals(snapshots)
            for day, snapshot in snapshots.items():
                accepted, _ = expected_ods(DailyCatalog(PRODUCTS, day).page(0, PRODUCTS * 2))
                assert query(warehouse.uri, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s",
                             (day,)) == [(len(accepted),)], day
                assert sorted(query(warehouse.uri, "SELECT category, product_count, total_stock, avg_price, "
                                    "avg_rating FROM dm.fct_ecommerce WHERE report_date = %s", (day,))) == \
                    expected_mart(accepted), day
                assert {r[0]: tuple(r[1:]) for r in query(warehouse.uri, MART, (day,))} == \
                    oracle.mart_columns(day, snapshot, expected_changes), day
            assert query(warehouse.uri, "SELECT count(*) FROM information_schema.tables "
                                        "WHERE table_schema = 'staging'") == [(0,)]
            retried = {r.tags.get("dagster/partition") for r in instance.get_runs()
                       if instance.get_records_for_run(r.run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY).records}
            healed = {r.tags.get("dagster/partition") for r in instance.get_runs() if HEALS_TAG in r.tags}
            print(f"days whose steps retried: {sorted(str(d) for d in retried)}; run again by heal_sensor: "
                  f"{sorted(str(d) for d in healed)}")
            assert str(DAYS[0]) in retried, "day 1's fetch was not retried"
            assert receiver.received == [], [m["text"] for m in receiver.received]  # days that heal send no alert

            server.state.catalog = half_invalid(DAYS[4])
            failed = submit(stack, DAYS[4])
            wait_for(lambda: len(receiver.received) == 1, 300, "the alert of day 5", stack.log, instance)
            message = receiver.received[0]
            assert message["run_id"] == failed and message["partition"] == str(DAYS[4])
            assert message["failure_class"] == "permanent" and "rejected_share" in message["text"], message["text"]
            record = instance.get_run_record_by_id(failed)
            assert record is not None and record.dagster_run.status == DagsterRunStatus.FAILURE
            assert not instance.get_records_for_run(failed, of_type=DagsterEventType.STEP_UP_FOR_RETRY).records
            wait_for(lambda: _ticks_after(instance, "heal_sensor", failed) >= 1, 300,
                     "a heal_sensor tick after day 5 failed", stack.log, instance)
            assert not instance.get_runs(RunsFilter(tags={HEALS_TAG: failed}))
            assert len(receiver.received) == 1

