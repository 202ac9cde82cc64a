"""`ecommerce-local run|dev`: materialize a day end to end, or open the Dagster UI, on this machine alone.

Services that are not configured are started embedded and stopped on exit: PostgreSQL (pgserver, data in
`.local/pgdata`) when ECOM_PG_DSN is unset, moto's S3 server when ECOM_S3_ENDPOINT_URL is unset, and with
`--offline` the bundled catalog server instead of the public API.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from ecommerce_assets.catalog_server import CatalogServer, GeneratedCatalog
from ecommerce_assets.dsn import with_database
from ecommerce_assets.local.services import embedded_postgres, embedded_s3
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets.warehouse import migrate

REPO_ROOT = Path(__file__).resolve().parents[2]


def _ensure_database(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@contextmanager
def local_environment(state_dir: Path, offline: bool, products: int, awkward: bool) -> Iterator[dict[str, str]]:
    """Start whatever the environment does not configure; yields the variables a run needs."""
    env: dict[str, str] = {}
    with ExitStack() as stack:
        if not os.environ.get("ECOM_PG_DSN"):
            admin = stack.enter_context(embedded_postgres(state_dir / "pgdata"))
            for name in ("warehouse", "dagster"):
                _ensure_database(admin, name)
            env["ECOM_PG_DSN"] = with_database(admin, "warehouse")
            env["DAGSTER_PG_URL"] = with_database(admin, "dagster")
            print(f"embedded PostgreSQL 16 (data in {state_dir / 'pgdata'})")
        if not os.environ.get("DAGSTER_PG_URL") and "DAGSTER_PG_URL" not in env:
            env["DAGSTER_PG_URL"] = os.environ["ECOM_PG_DSN"]
        if not os.environ.get("ECOM_S3_ENDPOINT_URL"):
            env["ECOM_S3_ENDPOINT_URL"] = stack.enter_context(embedded_s3())
            env.setdefault("AWS_ACCESS_KEY_ID", os.environ.get("AWS_ACCESS_KEY_ID", "local"))
            env.setdefault("AWS_SECRET_ACCESS_KEY", os.environ.get("AWS_SECRET_ACCESS_KEY", "local"))
            print(f"embedded S3 server (moto) at {env['ECOM_S3_ENDPOINT_URL']}, in memory")
        if offline:
            if awkward and not os.environ.get("ECOM_MAX_REJECTED_SHARE"):
                # a third of the awkward demo catalog is rejected on purpose; let its mart through
                env["ECOM_MAX_REJECTED_SHARE"] = "0.5"
                print("awkward demo catalog: about a third of its records are rejected; rejected-share gate at 50%")
            server = stack.enter_context(CatalogServer(GeneratedCatalog(size=products, awkward=awkward)))
            env["ECOM_API_BASE_URL"] = server.url
            print(f"bundled catalog server at {server.url} ({products} products)")
        dagster_home = state_dir / "dagster_home"
        dagster_home.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
        env["DAGSTER_HOME"] = str(dagster_home)
        os.environ.update(env)
        S3LakeResource().ensure_bucket()
        with psycopg.connect(os.environ["ECOM_PG_DSN"]) as conn:
            applied = migrate(conn)  # the set-up step; runs themselves only check the schema
        if applied:
            print(f"warehouse migrations applied: {', '.join(applied)}")
        yield env


def run(partition: str) -> None:
    from dagster import DagsterInstance

    from ecommerce_assets.definitions import defs

    job = defs.resolve_job_def("ecommerce_daily_job")
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            partition_key=partition, instance=instance, raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
    if not result.success:
        for event in result.all_events:
            if event.is_failure and event.step_failure_data is not None:
                print(event.step_failure_data.error.to_string() if event.step_failure_data.error else event.message,
                      file=sys.stderr)
        raise SystemExit(f"run {result.run_id} failed")
    print(f"run {result.run_id} materialized raw_products_parquet, ods_fct_products, dm_fct_ecommerce for {partition}")
    print_mart(os.environ["ECOM_PG_DSN"], partition)


def print_mart(dsn: str, partition: str) -> None:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT category, product_count, total_stock, avg_price, avg_rating FROM dm.fct_ecommerce "
            "WHERE report_date = %s ORDER BY category", (date.fromisoformat(partition),)
        ).fetchall()
    header = ("category", "product_count", "total_stock", "avg_price", "avg_rating")
    table = [header] + [tuple("" if v is None else str(v) for v in row) for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print(f"\ndm.fct_ecommerce, report_date = {partition}")
    for i, row in enumerate(table):
        print("  ".join(v.ljust(w) if j == 0 else v.rjust(w) for j, (v, w) in enumerate(zip(row, widths, strict=False))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def dev(port: int) -> None:
    command = [sys.executable, "-m", "dagster", "dev", "-m", "ecommerce_assets", "-h", "127.0.0.1", "-p", str(port)]
    print(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C stops it and the embedded services)")
    process = subprocess.Popen(command, cwd=REPO_ROOT)
    try:
        process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def main(argv: list[str] | None = None) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    parser = argparse.ArgumentParser(prog="ecommerce-local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "dev"], help="run: materialize one day and print the mart; dev: the UI")
    parser.add_argument("--offline", action="store_true", help="use the bundled catalog server, not the public API")
    parser.add_argument("--date", default=yesterday, help="partition (YYYY-MM-DD); default yesterday, UTC")
    parser.add_argument("--products", type=int, default=194, help="catalog size with --offline")
    parser.add_argument("--awkward", action="store_true", help="with --offline, mix in records the rules reject")
    parser.add_argument("--port", type=int, default=3000, help="UI port for dev")
    parser.add_argument("--state-dir", type=Path, default=Path.cwd() / ".local", help="embedded services' data")
    args = parser.parse_args(argv)
    date.fromisoformat(args.date)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    with local_environment(args.state_dir.resolve(), args.offline, args.products, args.awkward):
        if args.command == "run":
            run(args.date)
        else:
            dev(args.port)


if __name__ == "__main__":
    main()
