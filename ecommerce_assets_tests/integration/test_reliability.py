"""Faults injected for real (a killed database connection, a dead S3 endpoint, concurrent runs, hostile
input) and what must hold afterwards: no partial partition, previous rows intact, re-runs converge, no
secret in any message."""

import threading
import time
from typing import Any

import psycopg
import pytest
from dagster import DagsterEventType, ExecuteInProcessResult

from ecommerce_assets.defs.products.keys import CHANGES, MART, ODS, RAW
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.warehouse import WarehouseResource, migrate
from ecommerce_assets_tests.support.helpers import (
    REPO_ROOT,
    expected_mart,
    expected_ods,
    fetch_all,
    make_resources,
    materialization,
    query,
    run_partition,
)
from ecommerce_catalog_server import CatalogServer, Fault, FaultPlan, GeneratedCatalog, ListCatalog
from ecommerce_local.services import free_port

PARTITION = "2025-08-01"
ODS_ROWS = ("SELECT product_id, title, category, price, stock, rating, loaded_at FROM ods.fct_products "
            "WHERE snapshot_date = %s ORDER BY product_id")
REJECTED_ROWS = "SELECT record_index, reason, loaded_at FROM ods.rejected_products WHERE snapshot_date = %s ORDER BY 1"
MART_ROWS = "SELECT category, product_count, total_stock, avg_price, avg_rating, loaded_at FROM dm.fct_ecommerce ORDER BY 1"


def failure_text(result: ExecuteInProcessResult) -> str:
    texts = []
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE and event.step_failure_data and event.step_failure_data.error:
            texts.append(event.step_failure_data.error.to_string())
    return "\n".join(texts)


def all_event_text(result: ExecuteInProcessResult) -> str:
    return "\n".join(f"{e.message} {getattr(e, 'event_specific_data', '')!r}" for e in result.all_events)


def state(dsn: str) -> tuple[Any, Any, Any]:
    return query(dsn, ODS_ROWS, (PARTITION,)), query(dsn, REJECTED_ROWS, (PARTITION,)), query(dsn, MART_ROWS)


def wait_for_blocked_backend(dsn: str, seconds: float = 60) -> int:
    """The pid of the pipeline's backend waiting on a table lock."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = query(dsn, "SELECT pid FROM pg_stat_activity WHERE application_name = 'ecommerce_assets' "
                          "AND wait_event_type = 'Lock' AND datname = current_database()")
        if rows:
            return int(rows[0][0])
        time.sleep(0.2)
    raise AssertionError("the pipeline never blocked on the table lock")


@pytest.mark.parametrize(("table", "assets"), [
    ("ods.fct_products", [ODS]),
    ("dm.fct_ecommerce", [MART]),
])
def test_connection_killed_mid_write_leaves_previous_rows(lake: LakeResource, pg_dsn: str, table: str,
                                                          assets: list[Any]) -> None:
    with CatalogServer(GeneratedCatalog(size=150, seed=8, awkward=True)) as server:
        resources = make_resources(lake, pg_dsn, server.url)
        run_partition(resources, PARTITION)
        before = state(pg_dsn)
        # A new snapshot of the day, so the write below would change rows.
        server.state.catalog = GeneratedCatalog(size=140, seed=9, awkward=True)
        run_partition(resources, PARTITION, assets=[RAW], refetch=True)
        if table == "dm.fct_ecommerce":
            run_partition(resources, PARTITION, assets=[ODS])
            before = state(pg_dsn)

        results: list[ExecuteInProcessResult] = []
        with psycopg.connect(pg_dsn) as blocker:
            blocker.execute(f"LOCK TABLE {table} IN SHARE MODE")  # reads go on, writes wait
            worker = threading.Thread(target=lambda: results.append(
                run_partition(resources, PARTITION, assets=assets, raise_on_error=False)))
            worker.start()
            pid = wait_for_blocked_backend(pg_dsn)
            query(pg_dsn, "SELECT pg_terminate_backend(%s)", (pid,))
            blocker.rollback()
            worker.join(timeout=120)
        assert not results[0].success
        assert "terminat" in failure_text(results[0]).lower() or "server closed" in failure_text(results[0]).lower()
        assert state(pg_dsn) == before  # no partial partition: every row as it was, loaded_at included
        assert query(pg_dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'staging'") == [(0,)]

        # A re-run converges to the new snapshot.
        run_partition(resources, PARTITION, assets=[ODS, CHANGES, MART])
        accepted, _ = expected_ods(fetch_all(server.url))
        assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s", (PARTITION,)) == [(len(accepted),)]
        assert sorted(r[:5] for r in query(pg_dsn, MART_ROWS)) == expected_mart(accepted)


def test_concurrent_runs_of_one_partition_serialize(lake: LakeResource, pg_dsn: str) -> None:
    with CatalogServer(GeneratedCatalog(size=300, seed=4)) as server:
        resources = make_resources(lake, pg_dsn, server.url)
        run_partition(resources, PARTITION, assets=[RAW])
        results: list[ExecuteInProcessResult] = []
        workers = [threading.Thread(target=lambda: results.append(
            run_partition(resources, PARTITION, assets=[ODS, CHANGES, MART]))) for _ in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=300)
        assert len(results) == 3 and all(r.success for r in results)
        accepted, _ = expected_ods(fetch_all(server.url))
        assert query(pg_dsn, "SELECT count(*), count(DISTINCT product_id) FROM ods.fct_products") == \
            [(len(accepted), len(accepted))]
        assert sorted(r[:5] for r in query(pg_dsn, MART_ROWS)) == expected_mart(accepted)


def test_s3_down_fails_clearly_and_keeps_the_previous_snapshot(lake: LakeResource, pg_dsn: str) -> None:
    with CatalogServer(GeneratedCatalog(size=80, seed=2)) as server:
        run_partition(make_resources(lake, pg_dsn, server.url), PARTITION, assets=[RAW])
        key = f"raw/products/snapshot_date={PARTITION}/products.parquet"
        before = lake.get_client().get_object(Bucket=lake.bucket, Key=key)["Body"].read()

        dead = LakeResource(bucket=lake.bucket, endpoint_url=f"http://127.0.0.1:{free_port()}",
                              connect_timeout_seconds=1, max_attempts=2)
        result = run_partition(make_resources(dead, pg_dsn, server.url), PARTITION, assets=[RAW],
                               refetch=True, raise_on_error=False)
        assert not result.success
        assert "Could not connect to the endpoint URL" in failure_text(result)
        assert lake.get_client().get_object(Bucket=lake.bucket, Key=key)["Body"].read() == before
        listing = lake.get_client().list_objects_v2(Bucket=lake.bucket)
        assert [o["Key"] for o in listing["Contents"]] == [key]
        uploads = lake.get_client().list_multipart_uploads(Bucket=lake.bucket)
        assert not uploads.get("Uploads")


HOSTILE = [
    "O'Reilly \"quoted\"; DROP TABLE ods.fct_products;--",
    "ünïcödé 🛒 中文 \u202ertl",
    "tab\tnew\nline\r\nend",
    "\\back\\slash \\N NULL",
    "%s %(x)s {} $1 ${VAR}",
    "x" * 200_000,
    "",
]


def test_hostile_strings_round_trip(lake: LakeResource, pg_dsn: str) -> None:
    records = [
        {"id": i + 1, "title": text, "description": text, "brand": text, "sku": text, "availabilityStatus": text,
         "category": f"cat'; DELETE FROM dm.fct_ecommerce; -- {i}" if i % 2 else text, "tags": [text],
         "price": 1.5, "stock": 1, "rating": 4}
        for i, text in enumerate(HOSTILE)
    ]
    with CatalogServer(ListCatalog(records)) as server:
        run_partition(make_resources(lake, pg_dsn, server.url), PARTITION)
    stored = query(pg_dsn, "SELECT product_id, title, description, brand, sku, availability_status, tags->>0 "
                           "FROM ods.fct_products ORDER BY product_id")
    assert stored == [(i + 1, t, t, t, t, t, t) for i, t in enumerate(HOSTILE)]
    categories = {r[0] for r in query(pg_dsn, "SELECT category FROM dm.fct_ecommerce")}
    expected = {(t.strip(" \t\n\r") or "unknown") if i % 2 == 0 else f"cat'; DELETE FROM dm.fct_ecommerce; -- {i}"
                for i, t in enumerate(HOSTILE)}
    assert categories == expected
    assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products") == [(len(HOSTILE),)]


@pytest.mark.parametrize(("limits", "message"), [
    ({"max_response_bytes": 5_000}, "exceeds the 5000-byte limit"),
    ({"max_records": 50}, "reports 80 records, above the limit of 50"),
])
def test_oversized_input_fails_clearly(lake: LakeResource, pg_dsn: str, limits: dict[str, int], message: str) -> None:
    with CatalogServer(GeneratedCatalog(size=80, seed=2)) as server:
        result = run_partition(make_resources(lake, pg_dsn, server.url, **limits), PARTITION,
                               assets=[RAW], raise_on_error=False)
    assert not result.success and message in failure_text(result)
    assert "Contents" not in lake.get_client().list_objects_v2(Bucket=lake.bucket)


def test_no_secret_in_messages_or_metadata(lake: LakeResource, pg_dsn: str) -> None:
    with CatalogServer(GeneratedCatalog(size=30, seed=2)) as server:
        host = server.url.removeprefix("http://")
        secret_url = f"http://reader:hunter2-api@{host}"
        ok = run_partition(make_resources(lake, pg_dsn, secret_url), PARTITION)
        assert ok.success and "hunter2" not in all_event_text(ok)
        assert "hunter2" not in repr(materialization(ok, RAW).metadata)
        assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products") == [(30,)]

        server.state.faults = FaultPlan(every={1: Fault("status", status=503)})
        failed = run_partition(make_resources(lake, pg_dsn, secret_url, max_retries=1), "2025-08-02",
                               raise_on_error=False)
        assert not failed.success and "gave up after 1 retries" in failure_text(failed)
        assert "hunter2" not in failure_text(failed) and "hunter2" not in all_event_text(failed)

    wrong = WarehouseResource(dsn=f"postgresql://postgres:hunter2-db@127.0.0.1:{free_port()}/x", connect_timeout_seconds=2)
    with pytest.raises(psycopg.OperationalError) as caught, wrong.connect():
        pass
    assert "hunter2" not in str(caught.value)


def test_process_killed_mid_run_then_rerun_converges(lake: LakeResource, pg_dsn: str, tmp_path: Any) -> None:
    import os
    import signal
    import subprocess
    import sys

    with CatalogServer(GeneratedCatalog(size=120, seed=5)) as server:
        resources = make_resources(lake, pg_dsn, server.url)
        run_partition(resources, PARTITION, assets=[RAW])
        with psycopg.connect(pg_dsn) as conn:
            migrate(conn)  # the tables exist before the first load, as in any deployment
        script = tmp_path / "run.py"
        script.write_text(
            "import sys\n"
            "from ecommerce_assets.defs.products.keys import ODS\n"
            "from ecommerce_assets.lake import LakeResource\n"
            "from ecommerce_assets_tests.support.helpers import make_resources, run_partition\n"
            "lake = LakeResource(bucket=sys.argv[1], endpoint_url=sys.argv[2])\n"
            "run_partition(make_resources(lake, sys.argv[3], sys.argv[4]), sys.argv[5], assets=[ODS])\n"
        )
        with psycopg.connect(pg_dsn) as blocker:
            blocker.execute("LOCK TABLE ods.fct_products IN SHARE MODE")
            process = subprocess.Popen([sys.executable, str(script), lake.bucket, lake.endpoint_url or "", pg_dsn,
                                        server.url, PARTITION], start_new_session=True,
                                       env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
            wait_for_blocked_backend(pg_dsn)
            os.killpg(process.pid, signal.SIGKILL)  # the whole run, mid-load
            process.wait()
            blocker.rollback()
        assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products") == [(0,)]  # nothing half-written

        run_partition(resources, PARTITION, assets=[ODS, CHANGES, MART])
        once = state(pg_dsn)
        run_partition(resources, PARTITION, assets=[ODS, CHANGES, MART])
        assert state(pg_dsn) == once  # converged: nothing duplicated, nothing rewritten
        accepted, _ = expected_ods(fetch_all(server.url))
        assert query(pg_dsn, "SELECT count(*), count(DISTINCT product_id) FROM ods.fct_products") == \
            [(len(accepted), len(accepted))]
