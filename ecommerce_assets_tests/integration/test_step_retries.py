"""Steps retry transient faults and stop at once on permanent ones, on real services: the warehouse made
unreachable by a real network outage (a forwarder that refuses and resets connections, `support/outage.py`)
before and in the middle of the ODS load; a schema that is not current; the retries switched off."""

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from dagster import DagsterEventType, DagsterInstance, ExecuteInProcessResult
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ecommerce_assets.diagnosis import describe_error
from ecommerce_assets.failure_classes import classify
from ecommerce_assets.lake import LakeResource
from ecommerce_assets_tests.support.helpers import (
    expected_mart,
    expected_ods,
    fetch_all,
    make_resources,
    query,
    run_partition,
)
from ecommerce_assets_tests.support.outage import Outage, outage_of
from ecommerce_catalog_server import CatalogServer, GeneratedCatalog

DAY = "2025-03-14"


@pytest.fixture(autouse=True)
def step_retries_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOM_STEP_RETRIES", "5")  # the platform's default (the suite turns them off)


@pytest.fixture
def warehouse_outage(pg_dsn: str) -> Iterator[Outage]:
    parts = conninfo_to_dict(pg_dsn)
    with outage_of(str(parts.get("host") or "127.0.0.1"), int(parts.get("port") or 5432)) as outage:
        yield outage


def through(outage: Outage, dsn: str) -> str:
    return make_conninfo(dsn, host="127.0.0.1", port=str(outage.port))


def retries(result: ExecuteInProcessResult) -> list[tuple[str, str]]:
    """(step, cause) of every retry the run made."""
    found = []
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_UP_FOR_RETRY:
            data = event.event_specific_data
            found.append((event.step_key or "", classify(data.error).cause if data and data.error else ""))  # type: ignore[union-attr]
    return found


def step_failure(result: ExecuteInProcessResult, step: str) -> str:
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE and event.step_key == step:
            error = event.step_failure_data.error
            return describe_error(error) if error else ""  # as the runner and the alerts say it
    raise AssertionError(f"{step} did not fail")


def assert_day_exact(pg_dsn: str, api_url: str) -> None:
    """The ODS and the mart of the day equal the oracle's, one copy of each row, no stage left behind."""
    accepted, _ = expected_ods(fetch_all(api_url))
    assert query(pg_dsn, "SELECT count(*), count(DISTINCT product_id) FROM ods.fct_products WHERE snapshot_date = %s",
                 (DAY,)) == [(len(accepted), len(accepted))]
    mart = query(pg_dsn, "SELECT category, product_count, total_stock, avg_price, avg_rating FROM dm.fct_ecommerce "
                         "WHERE report_date = %s", (DAY,))
    assert sorted(mart) == expected_mart(accepted)
    assert query(pg_dsn, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'staging'") == [(0,)]


def test_a_warehouse_that_is_away_when_the_load_starts_is_waited_for(
        lake: LakeResource, pg_dsn: str, dagster_instance: DagsterInstance, warehouse_outage: Outage) -> None:
    with CatalogServer(GeneratedCatalog(size=300, seed=3)) as server:
        resources = make_resources(lake, through(warehouse_outage, pg_dsn), server.url)
        warehouse_outage.down()
        back = threading.Timer(6, warehouse_outage.up)  # the fault's schedule: back after 6 s
        back.start()
        try:
            result = run_partition(resources, DAY, instance=dagster_instance, raise_on_error=False)
        finally:
            back.cancel()
        assert result.success, [step_failure(result, s) for s in ("ods_products",)]
        made = retries(result)
        assert made and {step for step, _ in made} == {"ods_products"}, made
        assert {cause for _, cause in made} == {"warehouse unreachable (connection refused)"}
        assert_day_exact(pg_dsn, server.url)


def copy_running(dsn: str) -> bool:
    database = conninfo_to_dict(dsn)["dbname"]
    return bool(query(dsn, "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND query ILIKE 'COPY%%' "
                           "AND pid <> pg_backend_pid()", (database,)))


def test_a_load_cut_in_the_middle_is_retried_and_leaves_one_copy(
        lake: LakeResource, pg_dsn: str, dagster_instance: DagsterInstance, warehouse_outage: Outage) -> None:
    with CatalogServer(GeneratedCatalog(size=30_000, seed=5)) as server:
        resources = make_resources(lake, through(warehouse_outage, pg_dsn), server.url, page_size=1000)
        cut: list[float] = []

        def cut_during_copy() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not copy_running(pg_dsn):
                time.sleep(0.01)
            warehouse_outage.down()  # every connection of the load reset mid-COPY
            cut.append(time.monotonic())
            time.sleep(3)
            warehouse_outage.up()

        watcher = threading.Thread(target=cut_during_copy, daemon=True)
        watcher.start()
        result = run_partition(resources, DAY, instance=dagster_instance, raise_on_error=False)
        watcher.join(timeout=130)
        assert cut, "the load's COPY was never seen"
        assert result.success, step_failure(result, "ods_products")
        assert any(step == "ods_products" for step, _ in retries(result)), retries(result)
        assert_day_exact(pg_dsn, server.url)


def test_a_schema_that_is_not_current_stops_at_once(lake: LakeResource, pg_dsn: str, empty_database: str,
                                                    dagster_instance: DagsterInstance) -> None:
    with CatalogServer(GeneratedCatalog(size=50, seed=3)) as server:
        started = time.monotonic()
        result = run_partition(make_resources(lake, empty_database, server.url), DAY, instance=dagster_instance,
                               raise_on_error=False)
        assert not result.success and retries(result) == []
        assert time.monotonic() - started < 20  # not the ~2.5 minutes five retries would take
        failure = step_failure(result, "ods_products")
        assert failure.startswith("SchemaNotCurrent: the warehouse schema is not current"), failure


def test_with_step_retries_off_the_same_outage_fails_the_day(
        lake: LakeResource, pg_dsn: str, dagster_instance: DagsterInstance, warehouse_outage: Outage,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOM_STEP_RETRIES", "0")
    with CatalogServer(GeneratedCatalog(size=300, seed=3)) as server:
        resources = make_resources(lake, through(warehouse_outage, pg_dsn), server.url)
        warehouse_outage.down()
        result = run_partition(resources, DAY, instance=dagster_instance, raise_on_error=False)
        assert not result.success and retries(result) == []
        assert step_failure(result, "ods_products").startswith(
            "warehouse unreachable (connection refused) (step retries are off: ECOM_STEP_RETRIES=0) — OperationalError: ")
        with psycopg.connect(pg_dsn) as conn:
            assert conn.execute("SELECT count(*) FROM ods.fct_products").fetchone() == (0,)
