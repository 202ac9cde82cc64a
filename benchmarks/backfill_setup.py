"""What the backfill benchmarks start from: days of raw snapshots stored in the lake (the simulator's
catalog, fetched day by day as the schedule would have) and a fresh, migrated warehouse database."""

from datetime import date

import psycopg
from dagster import materialize
from psycopg import sql

from ecommerce_assets.assets import dm_fct_ecommerce, dm_fct_product_changes, ods_fct_products, raw_products_parquet
from ecommerce_assets.dsn import with_database
from ecommerce_assets.io_managers import PostgresTableIOManager, S3ParquetIOManager
from ecommerce_assets.migrations import migrate
from ecommerce_assets.resources import PostgresResource
from ecommerce_assets.resources.catalog_api import CatalogApiResource
from ecommerce_assets.resources.from_env import duckdb_from_env
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets.resources.quality_settings import QualitySettings
from ecommerce_assets.resources.retention import RetentionSettings
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


def store_raw(lake: S3LakeResource, dsn: str, days: list[date], products: int) -> None:
    """The raw snapshot of each day in the lake, through the raw asset and the bundled catalog server."""
    with CatalogServer(DailyCatalog(products, days[0])) as server:
        postgres = PostgresResource(dsn=dsn)
        resources = {"catalog_api": CatalogApiResource(base_url=server.url, page_size=1000), "lake": lake,
                     "postgres": postgres, "duckdb": duckdb_from_env(), "quality": QualitySettings(),
                     "retention": RetentionSettings(), "s3_parquet_io_manager": S3ParquetIOManager(lake=lake),
                     "postgres_io_manager": PostgresTableIOManager(postgres=postgres)}
        for day in days:
            server.state.catalog = DailyCatalog(products, day)
            materialize([raw_products_parquet, ods_fct_products, dm_fct_product_changes, dm_fct_ecommerce],
                        selection=[raw_products_parquet], partition_key=str(day), resources=resources,
                        run_config={"ops": {"raw_products_parquet": {"config": {"allow_late_fetch": True}}}})
