"""The fault catalog against a full pipeline: each fault injected for real, then the data checked.

    .venv/bin/python benchmarks/fault_report.py

For every fault: a good run of the day first (the state to protect), then the run under the fault, then
a clean re-run. Prints: fault, expected behaviour, observed, rows lost (the warehouse after the faulted run
against an expectation read straight off the catalog, for every fault; must be 0), converged. PostgreSQL
from $ECOM_BENCH_PG_DSN (superuser; default the local server, else embedded), S3 is moto's server.
"""

import argparse
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
from dagster import DagsterEventType, ExecuteInProcessResult, materialize
from dagster_duckdb import DuckDBResource
from psycopg import sql

from ecommerce_assets.assets import dm_fct_ecommerce, dm_fct_product_changes, ods_fct_products, raw_products_parquet
from ecommerce_assets.diagnosis import describe_error
from ecommerce_assets.dsn import with_database
from ecommerce_assets.io_managers import PostgresTableIOManager, S3ParquetIOManager
from ecommerce_assets.migrations import migrate
from ecommerce_assets.resources import CatalogApiResource, PostgresResource, S3LakeResource
from ecommerce_assets.resources.quality_settings import QualitySettings
from ecommerce_assets.resources.retention import RetentionSettings
from ecommerce_catalog_server import CatalogServer, Fault, FaultPlan, GeneratedCatalog
from ecommerce_local.services import embedded_s3, free_port, postgres_answers

PARTITION = "2025-09-01"
ASSETS = [raw_products_parquet, ods_fct_products, dm_fct_product_changes, dm_fct_ecommerce]
KEY = f"raw/products/snapshot_date={PARTITION}/products.parquet"


@dataclass
class Env:
    admin_dsn: str
    endpoint: str
    dsn: str = ""
    bucket: str = ""
    api_url: str = ""


def resources(env: Env, lake_endpoint: str | None = None, **api: Any) -> dict[str, Any]:
    lake = S3LakeResource(bucket=env.bucket, endpoint_url=lake_endpoint or env.endpoint, connect_timeout_seconds=1,
                          max_attempts=2)
    postgres = PostgresResource(dsn=env.dsn)
    return {"catalog_api": CatalogApiResource(base_url=env.api_url, page_size=50, backoff_factor=0.05, **api),
            "lake": lake, "postgres": postgres, "duckdb": DuckDBResource(database=":memory:"),
            "s3_parquet_io_manager": S3ParquetIOManager(lake=lake), "quality": QualitySettings(), "retention": RetentionSettings(),
            "postgres_io_manager": PostgresTableIOManager(postgres=postgres)}


def run(res: dict[str, Any], refetch: bool = False, selection: list[Any] | None = None) -> ExecuteInProcessResult:
    config = {"ops": {"raw_products_parquet": {"config": {"refetch": refetch, "allow_late_fetch": True}}},
              "loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    if selection and raw_products_parquet not in selection:
        config = {"loggers": config["loggers"]}
    return materialize(ASSETS, selection=selection or ASSETS, partition_key=PARTITION, resources=res,
                       run_config=config, raise_on_error=False)


def error_of(result: ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE and event.step_failure_data and event.step_failure_data.error:
            return describe_error(event.step_failure_data.error).splitlines()[0].split(": ", 1)[-1][:80]
    return "succeeded"


def snapshot(env: Env) -> dict[str, set[tuple[Any, ...]]]:
    with psycopg.connect(env.dsn) as conn:
        ods = set(conn.execute("SELECT snapshot_date, product_id, price, stock FROM ods.fct_products").fetchall())
        mart = set(conn.execute("SELECT report_date, category, product_count FROM dm.fct_ecommerce").fetchall())
    lake = S3LakeResource(bucket=env.bucket, endpoint_url=env.endpoint)
    body = lake.client().get_object(Bucket=env.bucket, Key=KEY)["Body"].read()
    return {"ods": ods, "mart": mart, "raw": {(len(body), hash(body))}}


@contextmanager
def fresh(env: Env) -> Iterator[CatalogServer]:
    """A new database, bucket and catalog server for one fault."""
    name = f"fault_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(env.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    env.dsn, env.bucket = with_database(env.admin_dsn, name), f"fault-{uuid.uuid4().hex[:12]}"
    S3LakeResource(bucket=env.bucket, endpoint_url=env.endpoint).ensure_bucket()
    try:
        with CatalogServer(GeneratedCatalog(size=400, seed=21)) as server:
            env.api_url = server.url
            yield server
    finally:
        with psycopg.connect(env.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def kill_blocked_write(env: Env, table: str, selection: list[Any]) -> ExecuteInProcessResult:
    results: list[ExecuteInProcessResult] = []
    with psycopg.connect(env.dsn) as blocker:
        blocker.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(*table.split("."))))
        worker = threading.Thread(target=lambda: results.append(run(resources(env), selection=selection)))
        worker.start()
        for _ in range(300):
            with psycopg.connect(env.dsn, autocommit=True) as conn:
                row = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'ecommerce_assets' "
                                   "AND wait_event_type = 'Lock'").fetchone()
                if row:
                    conn.execute("SELECT pg_terminate_backend(%s)", (row[0],))
                    break
            time.sleep(0.1)
        blocker.rollback()
        worker.join()
    return results[0]


FAULTS: list[tuple[str, str, Callable[[Env, CatalogServer], ExecuteInProcessResult]]] = [
    ("API 429 + Retry-After: 1", "retried, succeeds",
     lambda e, s: _api(e, s, {2: Fault("status", status=429, retry_after=1)})),
    ("API 500/502/503", "retried, succeeds",
     lambda e, s: _api(e, s, {2: Fault("status", status=500), 3: Fault("status", status=502), 5: Fault("status", status=503)})),
    ("API connection reset", "retried, succeeds", lambda e, s: _api(e, s, {3: Fault("reset")})),
    ("API timeout (slow answer)", "retried, succeeds", lambda e, s: _api(e, s, {3: Fault("delay", seconds=3)}, timeout_seconds=1)),
    ("API truncated body", "asked again, succeeds", lambda e, s: _api(e, s, {4: Fault("truncate")})),
    ("API non-JSON body", "asked again, succeeds", lambda e, s: _api(e, s, {4: Fault("not_json")})),
    ("API 500 on every request", "fails clearly, nothing stored",
     lambda e, s: _api(e, s, {}, every={1: Fault("status", status=500)}, max_retries=2)),
    ("API `total` changes mid-fetch", "fails, no torn snapshot", lambda e, s: _api(e, s, {4: Fault("total_shift", status=3)})),
    ("S3 endpoint down", "fails clearly, previous snapshot intact",
     lambda e, s: run(resources(e, lake_endpoint=f"http://127.0.0.1:{free_port()}"), refetch=True)),
    ("PostgreSQL killed during ODS load", "fails, previous rows intact",
     lambda e, s: kill_blocked_write(e, "ods.fct_products", [ods_fct_products])),
    ("PostgreSQL killed during mart build", "fails, previous rows intact",
     lambda e, s: kill_blocked_write(e, "dm.fct_ecommerce", [dm_fct_ecommerce])),
]


def _api(env: Env, server: CatalogServer, at: dict[int, Fault], every: dict[int, Fault] | None = None,
         **api: Any) -> ExecuteInProcessResult:
    server.state.faults = FaultPlan(at={k + server.state.requests: v for k, v in at.items()}, every=every or {})
    try:
        return run(resources(env, **api), refetch=True)
    finally:
        server.state.faults = FaultPlan()


def expected_state(server: CatalogServer) -> dict[str, set[tuple[Any, ...]]]:
    """What the warehouse must hold for the catalog the server serves, read straight off its records
    (the report's catalog has no awkward records: every product is accepted as it is)."""
    day = date.fromisoformat(PARTITION)
    records = server.state.catalog.page(0, server.state.catalog.total())
    ods = {(day, r["id"], Decimal(repr(r["price"])).quantize(Decimal("0.01"), ROUND_HALF_UP), r["stock"])
           for r in records}
    counts = Counter(r["category"] for r in records)
    return {"ods": ods, "mart": {(day, category, n) for category, n in counts.items()}}


def lost_rows(expected: dict[str, set[tuple[Any, ...]]], after: dict[str, set[tuple[Any, ...]]]) -> int:
    """Expected rows missing or different, plus rows that should not be there."""
    return sum(len(expected[k] ^ after[k]) for k in ("ods", "mart"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    with ExitStack() as stack:
        admin = os.environ.get("ECOM_BENCH_PG_DSN") or "postgresql://postgres@127.0.0.1:5432/postgres"
        if not postgres_answers(admin):
            raise SystemExit(f"no PostgreSQL at {admin}; set ECOM_BENCH_PG_DSN")
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "fault")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "fault")
        env = Env(admin_dsn=admin, endpoint=stack.enter_context(embedded_s3()))
        rows = []
        for name, expected_behaviour, inject in FAULTS:
            with fresh(env) as server:
                with psycopg.connect(env.dsn) as conn:
                    migrate(conn)
                expected = expected_state(server)
                assert run(resources(env)).success
                before = snapshot(env)
                assert lost_rows(expected, before) == 0, "the good run of the day is not exact"
                result = inject(env, server)
                after = snapshot(env)
                # Measured for every fault, success or not: the warehouse against the independent expectation,
                # and the raw object (kept byte for byte on failure; whole and complete on success).
                lost = lost_rows(expected, after)
                if not result.success and before["raw"] != after["raw"]:
                    lost += 1
                rerun = run(resources(env), refetch=True)
                converged = rerun.success and lost_rows(expected, snapshot(env)) == 0
                observed = "succeeded" if result.success else error_of(result)
                rows.append((name, expected_behaviour, observed, lost, "yes" if converged else "NO"))
                print(f"  {name}: {observed}", flush=True)
        header = ("fault", "expected", "observed", "rows lost", "re-run converges")
        widths = [max(len(str(r[i])) for r in [*rows, header]) for i in range(5)]
        print()
        for row in [header, tuple("-" * w for w in widths), *rows]:
            print(" | ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))
        print(f"\ntotal rows lost: {sum(r[3] for r in rows)} (rows lost = expected ODS and mart rows missing, "
              f"different or extra after the faulted run, +1 if a failed run changed the stored snapshot)")


if __name__ == "__main__":
    main()
