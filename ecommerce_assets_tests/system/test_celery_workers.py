"""The platform's steps on a pool of Celery workers (dagster-celery): three worker processes, each on a host
of its own (a network namespace joined by a veth pair, when the tests run as root), reaching RabbitMQ,
Redis, PostgreSQL and S3 over the network. A 30-day backfill of ODS, changes and mart from stored raw
snapshots, in batched runs submitted with ECOM_EXECUTOR=celery, one worker SIGKILLed in the middle of a step:
the backfill completes, every partition equals an independent oracle, every worker executed steps, the
killed step ran again on another worker, and nothing is left in `staging`."""

import os
import time
from collections.abc import Iterator
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, DagsterEventType

from ecommerce_assets.definitions import FOLLOW_UP_SENSORS, build_defs
from ecommerce_assets.defs.products.keys import CHANGES, MART, ODS, RAW
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.partitions import BACKFILL_DAYS_PER_RUN
from ecommerce_assets_tests.support import history_oracle as oracle
from ecommerce_assets_tests.support.celery_pool import Pool, celery_pool
from ecommerce_assets_tests.support.dagster_processes import STACK_TEST, materializations
from ecommerce_assets_tests.support.helpers import expected_mart, expected_ods, make_resources, query, run_partition
from ecommerce_assets_tests.support.restartable import RestartablePostgres, restartable_postgres
from ecommerce_catalog_server import CatalogServer
from ecommerce_catalog_server.daily import DailyCatalog
from ecommerce_local.follow_up import Cursors, requested

pytestmark = STACK_TEST

SIZE = 40
DAYS = [date(2025, 4, 1) + timedelta(days=i) for i in range(30)]
RANGES = [(DAYS[i], DAYS[min(i + BACKFILL_DAYS_PER_RUN, len(DAYS)) - 1]) for i in range(0, len(DAYS), BACKFILL_DAYS_PER_RUN)]


def catalog_of(day: date) -> DailyCatalog:
    return DailyCatalog(SIZE, day, seed=42)


def records_of(day: date) -> list[Any]:
    catalog = catalog_of(day)
    return catalog.page(0, catalog.total())


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[RestartablePostgres]:
    with restartable_postgres(tmp_path / "warehouse") as server:
        yield server


@pytest.fixture
def stored_raw(lake: LakeResource, warehouse: RestartablePostgres) -> dict[date, oracle.Snapshot]:
    """Thirty days of raw snapshots in the lake, fetched day by day as the daily schedule would have."""
    with CatalogServer(catalog_of(DAYS[0])) as server:
        resources = make_resources(lake, warehouse.uri, server.url, page_size=25)
        for day in DAYS:
            server.state.catalog = catalog_of(day)
            run_partition(resources, str(day), assets=[RAW])
    return {day: oracle.snapshot(records_of(day)) for day in DAYS}


@pytest.fixture
def pool(pg_dsn: str, s3_endpoint: str, lake: LakeResource, tmp_path: Path,
         warehouse: RestartablePostgres) -> Iterator[Pool]:
    with celery_pool(3, pg_dsn, s3_endpoint, lake.bucket, tmp_path, warehouse_dsn=warehouse.uri) as started:
        yield started


def wait_for_step_on_a_worker(pool: Pool, step: str, seconds: float = 180) -> tuple[str, str]:
    """(run id, worker) of the first time a worker has begun executing `step`: the worker took it (its engine
    event) and the step started (STEP_START) — on a slow machine the first can come seconds before the second,
    and a worker killed in between never started the step."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for run in pool.instance.get_runs():
            for worker, steps in pool.steps_by_worker([run.run_id]).items():
                if step in steps and any(r.dagster_event is not None and r.dagster_event.step_key == step
                                         for r in pool.instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_START)):
                    return run.run_id, worker
        time.sleep(0.2)
    raise AssertionError(f"no worker started {step} within {seconds}s")


def latest(pool: Pool, asset: AssetKey, day: date) -> int:
    """The storage id of the asset's latest materialization for the day (0: none)."""
    records = materializations(pool.instance, asset, day, limit=1)
    return records[0].storage_id if records else 0


def test_a_backfill_on_three_workers_one_killed_mid_step_and_the_warehouse_restarted_is_exact(
        pool: Pool, stored_raw: dict[date, oracle.Snapshot], warehouse: RestartablePostgres, lake: LakeResource,
        tmp_path: Path) -> None:
    pg_dsn = warehouse.uri  # the warehouse's tables below; the instance stays on the shared server
    if os.geteuid() == 0:
        assert pool.hosts.isolated, "as root, each worker must run in a network namespace of its own"
    print(f"workers: {'one network namespace each' if pool.hosts.isolated else 'plain local processes'}; "
          + ", ".join(f"{h.name} at {h.address}" for h in pool.hosts.hosts))
    for host in pool.hosts.hosts:  # each worker reaches every service at its own gateway, not at localhost
        assert all(address == host.gateway for address, _ in host.services.values())

    launches = [pool.run_range(first, last, tmp_path / f"run{i}.log") for i, (first, last) in enumerate(RANGES)]
    _, victim_name = wait_for_step_on_a_worker(pool, "ods_products")
    time.sleep(0.5)  # in the middle of loading its days
    victim = next(w for w in pool.workers if w.name == victim_name)
    victim.kill()
    warehouse.wait_for_a_session("state = 'active'", "a worker's statement", seconds=180)
    warehouse.down_for(10)  # a restart under the steps

    for i, launch in enumerate(launches):
        assert launch.wait(timeout=900) == 0, (tmp_path / f"run{i}.log").read_text()[-5000:]
    runs = pool.instance.get_runs()
    assert len(runs) == len(RANGES) and all(run.is_success for run in runs)

    # what the daemon would run next: the gap sensor (asked here) and the declared dependency on the day before —
    # a day whose changes were derived before its previous day's ODS was (re)loaded by another run. The latter
    # is read off the event log: the automation sensor sees it through its cursor, which a fresh evaluation here
    # would not have. Run on the pool too.
    defs = build_defs(make_resources(lake, pg_dsn, "http://unused"))
    asked = [r for r in requested(defs, pool.instance, Cursors(), FOLLOW_UP_SENSORS) if r.partition]
    assert all(r.assets <= {CHANGES, MART} for r in asked), asked
    follow_ups = {date.fromisoformat(str(r.partition)) for r in asked}
    follow_ups |= {day for before, day in pairwise(DAYS) if latest(pool, CHANGES, day) < latest(pool, ODS, before)}
    for n, day in enumerate(sorted(follow_ups)):
        follow = pool.run_range(day, day, tmp_path / f"follow{n}.log", job="dm_ecommerce_job")
        assert follow.wait(timeout=300) == 0, (tmp_path / f"follow{n}.log").read_text()[-5000:]

    # every partition exact against the oracle (no pipeline code)
    expected_changes = oracle.all_changes(stored_raw)
    stored_changes = set(query(pg_dsn, "SELECT change_date, product_id, change_type, previous_snapshot_date, old_value, "
                                       "new_value, price_change_pct FROM dm.fct_product_changes"))
    assert stored_changes == expected_changes
    for day in DAYS:
        accepted, _ = expected_ods(records_of(day))
        assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s", (day,)) == [(len(accepted),)]
        assert query(pg_dsn, "SELECT category, product_count, total_stock, avg_price, avg_rating FROM dm.fct_ecommerce "
                             "WHERE report_date = %s ORDER BY 1", (day,)) == expected_mart(accepted), day
        columns = {r[0]: tuple(r[1:]) for r in query(
            pg_dsn, "SELECT category, out_of_stock_count, inventory_value, avg_discount_pct, price_changes "
                    "FROM dm.fct_ecommerce WHERE report_date = %s", (day,))}
        assert columns == oracle.mart_columns(day, stored_raw[day], expected_changes), day
    assert query(pg_dsn, "SELECT relname FROM pg_class WHERE relnamespace = 'staging'::regnamespace") == []

    # every worker executed steps; the killed one's step ran again, on another worker
    executed = pool.steps_by_worker([run.run_id for run in runs])
    assert set(executed) == {w.name for w in pool.workers}, executed
    starts = [(r.run_id, r.dagster_event.step_key) for run in runs
              for r in pool.instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_START)
              if r.dagster_event is not None]
    assert len(starts) > len(set(starts)), "the killed worker's step was not executed again"
    survivors = {w.name for w in pool.workers} - {victim.name}
    assert any(step == "ods_products" for worker in survivors for step in executed.get(worker, []))
    # the steps the restart cut failed on a transient cause and were retried (not the run: it succeeded)
    retried = [r for run in runs for r in pool.instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY)]
    assert retried, "the warehouse restart cut no step"
