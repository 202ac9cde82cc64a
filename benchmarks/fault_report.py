"""The fault catalog against a full pipeline: each fault injected for real, then the data checked.

    .venv/bin/python benchmarks/fault_report.py

For every fault: a good run of the day first (the state to protect), then the run under the fault with the
production retry policy (ECOM_STEP_RETRIES, default 5: 5 s doubling ±50%), then — when that run still
failed — what the platform does next, as its sensors would: `heal_sensor` runs a transient failure again,
`run_failure_alert_sensor` alerts a permanent one; then a clean re-run. Prints, per fault: its class (the
platform's own verdict), expected behaviour, observed, the step retries it took, the time from the fault to
the day healed (exact in the warehouse), the alerts sent, the rows lost (the warehouse against an expectation
read straight off the catalog — for a permanent fault, against the state before it; must be 0), and whether
the re-run converges. PostgreSQL from $ECOM_BENCH_PG_DSN (superuser; default the local server, else
embedded), S3 is moto's server (behind a TCP outage where the fault is S3's).
"""

import argparse
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    ExecuteInProcessResult,
    SensorResult,
)
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ecommerce_assets.defs.products.keys import CHANGES, MART, ODS, RAW
from ecommerce_assets.diagnosis import describe_error
from ecommerce_assets.dsn import with_database
from ecommerce_assets.healing import run_verdict
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.warehouse import migrate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' support code: resources, oracles, services
from ecommerce_assets_tests.support.helpers import make_resources, run_partition
from ecommerce_assets_tests.support.http_servers import Receiver, receiving
from ecommerce_assets_tests.support.outage import outage_of
from ecommerce_assets_tests.support.sensor_calls import alert, heal
from ecommerce_assets_tests.support.services import embedded_s3, postgres_answers
from ecommerce_catalog_server import CatalogServer, Fault, FaultPlan, GeneratedCatalog, ListCatalog

PARTITION = "2025-09-01"
ASSETS = [RAW, ODS, CHANGES, MART]
KEY = f"raw/products/snapshot_date={PARTITION}/products.parquet"


@dataclass
class Env:
    admin_dsn: str
    endpoint: str
    dsn: str = ""
    bucket: str = ""
    api_url: str = ""


def resources(env: Env, lake_endpoint: str | None = None, **api: Any) -> dict[str, Any]:
    lake = LakeResource(bucket=env.bucket, endpoint_url=lake_endpoint or env.endpoint, connect_timeout_seconds=1,
                        max_attempts=2)
    return make_resources(lake, env.dsn, env.api_url, page_size=50, max_rejected_share=0.05, **api)


def run(res: dict[str, Any], instance: DagsterInstance, refetch: bool = False,
        selection: list[AssetKey] | None = None, late: bool = True, tags: dict[str, str] | None = None,
        ) -> ExecuteInProcessResult:
    assets = selection or ASSETS
    ops = {"raw_products_parquet": {"config": {"refetch": refetch, "allow_late_fetch": late}}} if RAW in assets else {}
    return run_partition(res, PARTITION, refetch=refetch, assets=assets, raise_on_error=False,
                         run_config={"ops": ops}, instance=instance, tags=tags)


def error_of(result: ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE and event.step_failure_data and event.step_failure_data.error:
            return describe_error(event.step_failure_data.error).splitlines()[0].split(": ", 1)[-1][:80]
    return "succeeded"


def snapshot(env: Env) -> dict[str, set[tuple[Any, ...]]]:
    with psycopg.connect(env.dsn) as conn:
        ods = set(conn.execute("SELECT snapshot_date, product_id, price, stock FROM ods.fct_products").fetchall())
        mart = set(conn.execute("SELECT report_date, category, product_count FROM dm.fct_ecommerce").fetchall())
    lake = LakeResource(bucket=env.bucket, endpoint_url=env.endpoint)
    body = lake.get_client().get_object(Bucket=env.bucket, Key=KEY)["Body"].read()
    return {"ods": ods, "mart": mart, "raw": {(len(body), hash(body))}}


@contextmanager
def fresh(env: Env) -> Iterator[CatalogServer]:
    """A new database, bucket and catalog server for one fault."""
    name = f"fault_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(env.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    env.dsn, env.bucket = with_database(env.admin_dsn, name), f"fault-{uuid.uuid4().hex[:12]}"
    LakeResource(bucket=env.bucket, endpoint_url=env.endpoint).ensure_bucket()
    try:
        with CatalogServer(GeneratedCatalog(size=400, seed=21)) as server:
            env.api_url = server.url
            yield server
    finally:
        with psycopg.connect(env.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def kill_blocked_write(env: Env, instance: DagsterInstance, table: str, selection: list[Any]) -> ExecuteInProcessResult:
    """Block the write on a lock, then kill its backend (pg_terminate_backend) while it waits."""
    results: list[ExecuteInProcessResult] = []
    with psycopg.connect(env.dsn) as blocker:
        blocker.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(*table.split("."))))
        worker = threading.Thread(target=lambda: results.append(run(resources(env), instance, selection=selection)))
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


def away_for(seconds: float, env: Env, instance: DagsterInstance, service: str) -> ExecuteInProcessResult:
    """The day's run while `service` (warehouse or lake) is unreachable for `seconds` — connections refused
    and reset by a TCP outage in front of it — from the moment the run starts."""
    if service == "warehouse":
        parts = conninfo_to_dict(env.dsn)
        target = (str(parts.get("host") or "127.0.0.1"), int(parts.get("port") or 5432))
    else:
        url = urlparse(env.endpoint)
        target = (url.hostname or "127.0.0.1", url.port or 80)
    with outage_of(*target) as outage:
        if service == "warehouse":
            res = make_resources(_lake(env), make_conninfo(env.dsn, host="127.0.0.1", port=str(outage.port)),
                                 env.api_url, page_size=50, max_rejected_share=0.05)
        else:
            res = resources(env, lake_endpoint=f"http://127.0.0.1:{outage.port}")
        outage.down()
        threading.Timer(seconds, outage.up).start()
        return run(res, instance, refetch=True)


def _lake(env: Env) -> LakeResource:
    return LakeResource(bucket=env.bucket, endpoint_url=env.endpoint, connect_timeout_seconds=1, max_attempts=2)


@dataclass(frozen=True)
class FaultCase:
    name: str
    expected: str
    inject: Callable[[Env, CatalogServer, DagsterInstance], ExecuteInProcessResult]
    permanent: bool = False  # the state to protect is the one before it (the catalog it serves is not the day's)


def _api(env: Env, server: CatalogServer, instance: DagsterInstance, at: dict[int, Fault],
         every: dict[int, Fault] | None = None, seconds: float | None = None, **api: Any) -> ExecuteInProcessResult:
    """The day's refetch with faults at the server's next requests (`at`) or on every request (`every`), for
    `seconds` when given (else for the whole run)."""
    server.state.faults = FaultPlan(at={k + server.state.requests: v for k, v in at.items()}, every=every or {})
    if seconds is not None:
        threading.Timer(seconds, lambda: setattr(server.state, "faults", FaultPlan())).start()
    try:
        return run(resources(env, **api), instance, refetch=True)
    finally:
        if seconds is None:
            server.state.faults = FaultPlan()


def _half_invalid(env: Env, server: CatalogServer, instance: DagsterInstance) -> ExecuteInProcessResult:
    records = server.state.catalog.page(0, server.state.catalog.total())
    server.state.catalog = ListCatalog([{**r, "price": "not a price"} if n % 2 else r for n, r in enumerate(records)])
    return run(resources(env), instance, refetch=True)


FAULTS: list[FaultCase] = [
    FaultCase("API 429 + Retry-After: 1", "retried, succeeds",
              lambda e, s, i: _api(e, s, i, {2: Fault("status", status=429, retry_after=1)})),
    FaultCase("API 500/502/503", "retried, succeeds",
              lambda e, s, i: _api(e, s, i, {2: Fault("status", status=500), 3: Fault("status", status=502),
                                             5: Fault("status", status=503)})),
    FaultCase("API connection reset", "retried, succeeds", lambda e, s, i: _api(e, s, i, {3: Fault("reset")})),
    FaultCase("API timeout (slow answer)", "retried, succeeds",
              lambda e, s, i: _api(e, s, i, {3: Fault("delay", seconds=3)}, timeout_seconds=1)),
    FaultCase("API truncated body", "asked again, succeeds", lambda e, s, i: _api(e, s, i, {4: Fault("truncate")})),
    FaultCase("API non-JSON body", "asked again, succeeds", lambda e, s, i: _api(e, s, i, {4: Fault("not_json")})),
    FaultCase("API 500 on every request, 20 s", "step retried, heals",
              lambda e, s, i: _api(e, s, i, {}, every={1: Fault("status", status=500)}, seconds=20, max_retries=2)),
    FaultCase("API `total` changes mid-fetch", "fetched again, succeeds",
              lambda e, s, i: _api(e, s, i, {4: Fault("total_shift", status=3)})),
    FaultCase("S3 unreachable, 20 s", "step retried, heals, previous snapshot intact meanwhile",
              lambda e, s, i: away_for(20, e, i, "lake")),
    FaultCase("PostgreSQL unreachable, 20 s", "step retried, heals, previous rows intact meanwhile",
              lambda e, s, i: away_for(20, e, i, "warehouse")),
    FaultCase("PostgreSQL killed during ODS load", "step retried, previous rows intact meanwhile",
              lambda e, s, i: kill_blocked_write(e, i, "ods.fct_products", [ODS])),
    FaultCase("PostgreSQL killed during mart build", "step retried, previous rows intact meanwhile",
              lambda e, s, i: kill_blocked_write(e, i, "dm.fct_ecommerce", [MART])),
    # permanent: stop at once, no retry, no re-run, one alert; the state before them stays
    FaultCase("API `total` moves on every request", "torn: fails, not run again, alerted, nothing stored",
              lambda e, s, i: _api(e, s, i, {}, every={1: Fault("total_shift", status=3)}), permanent=True),
    FaultCase("late fetch refused", "fails at once, alerted, nothing stored",
              lambda e, s, i: run(resources(e), i, refetch=True, late=False), permanent=True),
    FaultCase("half the catalog invalid", "gate fails, mart kept, alerted", _half_invalid, permanent=True),
]


def expected_state(server: CatalogServer) -> dict[str, set[tuple[Any, ...]]]:
    """What the warehouse must hold for the catalog the server serves, read straight off its records
    (the report's catalog has no awkward records: every product is accepted as it is)."""
    day = date.fromisoformat(PARTITION)
    records = server.state.catalog.page(0, server.state.catalog.total())
    ods = {(day, r["id"], Decimal(repr(r["price"])).quantize(Decimal("0.01"), ROUND_HALF_UP), r["stock"])
           for r in records}
    counts = Counter(r["category"] for r in records)
    return {"ods": ods, "mart": {(day, category, n) for category, n in counts.items()}}


def lost_rows(expected: dict[str, set[tuple[Any, ...]]], after: dict[str, set[tuple[Any, ...]]],
              tables: tuple[str, ...] = ("ods", "mart")) -> int:
    """Expected rows missing or different, plus rows that should not be there."""
    return sum(len(expected[k] ^ after[k]) for k in tables)


@dataclass
class Outcome:
    kind: str = "-"
    observed: str = "succeeded"
    retries: int = 0
    healed_after: str = "-"
    alerts: int = 0


def retries_of(instance: DagsterInstance, run_id: str) -> int:
    return len(instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY).records)


def what_follows(env: Env, instance: DagsterInstance, result: ExecuteInProcessResult, started: float,
                 receiver: Receiver) -> Outcome:
    """The faulted run's outcome, then what the sensors do about it (evaluated here, as the daemon would):
    a transient failure is run again by heal_sensor until the day is healed; a permanent one is alerted."""
    outcome = Outcome(retries=retries_of(instance, result.run_id))
    if result.success:
        outcome.healed_after = f"{time.monotonic() - started:.1f} s"
        outcome.kind = "transient" if outcome.retries else "-"
        return outcome
    outcome.observed = error_of(result)
    record = instance.get_run_record_by_id(result.run_id)
    assert record is not None
    verdict = run_verdict(instance, record)
    outcome.kind = verdict.kind + ("" if verdict.rerun or not verdict.transient else " (not re-run)")
    alert(instance, result.run_id, receiver.url, first_delay_minutes=0)
    for _ in range(5):  # heal_sensor's re-runs (first delay 0 here; 2, 4, 8 … minutes in production)
        decision = heal(instance, receiver.url, first_delay_minutes=0)
        if not isinstance(decision, SensorResult) or not decision.run_requests:
            break
        request = decision.run_requests[0]
        rerun = run(resources(env), instance, refetch=True, tags=dict(request.tags),
                    selection=[k for k in request.asset_selection or [] if k in ASSETS] or ASSETS)
        outcome.retries += retries_of(instance, rerun.run_id)
        if rerun.success:
            outcome.healed_after = f"{time.monotonic() - started:.1f} s (re-run)"
            break
    outcome.alerts = len(receiver.received)
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    os.environ.setdefault("ECOM_STEP_RETRIES", "5")
    with ExitStack() as stack:
        admin = os.environ.get("ECOM_BENCH_PG_DSN") or "postgresql://postgres@127.0.0.1:5432/postgres"
        if not postgres_answers(admin):
            raise SystemExit(f"no PostgreSQL at {admin}; set ECOM_BENCH_PG_DSN")
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "fault")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "fault")
        env = Env(admin_dsn=admin, endpoint=stack.enter_context(embedded_s3()))
        print(f"step retries: ECOM_STEP_RETRIES={os.environ['ECOM_STEP_RETRIES']}", flush=True)
        rows = []
        for case in FAULTS:
            instance = stack.enter_context(DagsterInstance.ephemeral())
            with receiving(200) as receiver, fresh(env) as server:
                with psycopg.connect(env.dsn) as conn:
                    migrate(conn)
                expected = expected_state(server)
                assert run(resources(env), instance).success
                before = snapshot(env)
                assert lost_rows(expected, before) == 0, "the good run of the day is not exact"
                started = time.monotonic()
                result = case.inject(env, server, instance)
                outcome = what_follows(env, instance, result, started, receiver)
                after = snapshot(env)
                # Measured for every fault, success or not: the warehouse against the independent expectation
                # (for a permanent fault, the state before it: its catalog is not the day's; after the rejected
                # share's gate the ODS holds what the API served, the mart is what it protects), and the raw
                # object (kept byte for byte on failure; whole and complete on success).
                if case.permanent:
                    tables = ("mart",) if case.inject is _half_invalid else ("ods", "mart")
                    lost = lost_rows(before, after, tables)
                    server.state.catalog = GeneratedCatalog(size=400, seed=21)
                else:
                    lost = lost_rows(expected, after)
                if not result.success and outcome.healed_after == "-" and before["raw"] != after["raw"] \
                        and case.inject is not _half_invalid:
                    lost += 1
                rerun = run(resources(env), instance, refetch=True)
                converged = rerun.success and lost_rows(expected, snapshot(env)) == 0
                rows.append((case.name, outcome.kind, case.expected, outcome.observed, outcome.retries,
                             outcome.healed_after, outcome.alerts, lost, "yes" if converged else "NO"))
                print(f"  {case.name}: {outcome.observed}; {outcome.retries} retries, healed after "
                      f"{outcome.healed_after}, {outcome.alerts} alerts", flush=True)
        header = ("fault", "class", "expected", "observed", "step retries", "fault → day healed", "alerts",
                  "rows lost", "re-run converges")
        widths = [max(len(str(r[i])) for r in [*rows, header]) for i in range(len(header))]
        print()
        for row in [header, tuple("-" * w for w in widths), *rows]:
            print(" | ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))
        print(f"\ntotal rows lost: {sum(r[7] for r in rows)} (rows lost = expected ODS and mart rows missing, "
              f"different or extra after the fault and what the sensors did about it — for a permanent fault, "
              f"against the state before it — +1 if a failed day changed the stored snapshot)")


if __name__ == "__main__":
    main()
