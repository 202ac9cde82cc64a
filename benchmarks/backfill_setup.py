"""What the backfill benchmarks start from: days of raw snapshots stored in the lake (the simulator's
catalog, fetched day by day as the schedule would have) and a fresh, migrated warehouse database."""

import sys
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from ecommerce_assets.definitions import build_defs
from ecommerce_assets.dsn import with_database
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.warehouse import migrate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' support code: resources, oracles, services
from ecommerce_assets_tests.support.helpers import make_resources
from ecommerce_catalog_server import CatalogServer
from ecommerce_catalog_server.daily import DailyCatalog


def fresh_database(admin: str, name: str) -> str:
    """Database `name` on `admin`'s server, dropped if it existed, created and migrated; its DSN."""
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = with_database(admin, name)
    with psycopg.connect(dsn) as conn:
        migrate(conn)
    return dsn


def store_raw(lake: LakeResource, dsn: str, days: list[date], products: int) -> None:
    """The raw snapshot of each day in the lake, through the raw job and the bundled catalog server."""
    with CatalogServer(DailyCatalog(products, days[0])) as server:
        job = build_defs(make_resources(lake, dsn, server.url, page_size=1000)).resolve_job_def("raw_products_job")
        for day in days:
            server.state.catalog = DailyCatalog(products, day)
            job.execute_in_process(partition_key=str(day),
                                   run_config={"ops": {"raw_products_parquet": {"config": {"allow_late_fetch": True}}}})
