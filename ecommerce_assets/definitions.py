"""The only Definitions of the code location."""

from dagster import Definitions, EnvVar
from dagster_duckdb import DuckDBResource

from ecommerce_assets.assets import dm_fct_ecommerce, ods_fct_products, raw_products_parquet
from ecommerce_assets.io_managers import PostgresTableIOManager, S3ParquetIOManager
from ecommerce_assets.jobs import ALL_JOBS
from ecommerce_assets.resources import CatalogApiResource, PostgresResource, S3LakeResource


def build_resources() -> dict[str, object]:
    """Resources read their settings from the environment when a run uses them, never at import."""
    lake = S3LakeResource()
    postgres = PostgresResource(dsn=EnvVar("ECOM_PG_DSN"))
    return {
        "catalog_api": CatalogApiResource(),
        "lake": lake,
        "postgres": postgres,
        "duckdb": DuckDBResource(database=":memory:"),
        "s3_parquet_io_manager": S3ParquetIOManager(lake=lake),
        "postgres_io_manager": PostgresTableIOManager(postgres=postgres),
    }


defs = Definitions(
    assets=[raw_products_parquet, ods_fct_products, dm_fct_ecommerce],
    jobs=ALL_JOBS,
    resources=build_resources(),
)
