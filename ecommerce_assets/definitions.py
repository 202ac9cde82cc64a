"""The only Definitions of the code location."""

from dagster import Definitions, EnvVar
from dagster_duckdb import DuckDBResource

from ecommerce_assets.assets import dm_fct_ecommerce, ods_fct_products, raw_products_parquet
from ecommerce_assets.automation import automation_sensor
from ecommerce_assets.checks import (
    FreshnessSettings,
    dm_fct_ecommerce__yesterday_present,
    dm_freshness_job,
    dm_freshness_schedule,
)
from ecommerce_assets.io_managers import PostgresTableIOManager, S3ParquetIOManager
from ecommerce_assets.jobs import ALL_JOBS
from ecommerce_assets.resources import CatalogApiResource, PostgresResource, S3LakeResource
from ecommerce_assets.resources.alerts import AlertWebhookResource
from ecommerce_assets.resources.quality import QualitySettings
from ecommerce_assets.schedules import raw_products_daily_schedule
from ecommerce_assets.sensors import raw_snapshot_s3_sensor, run_failure_alert_sensor


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
        "alert_webhook": AlertWebhookResource(),
        "freshness": FreshnessSettings(),
        "quality": QualitySettings(),
    }


defs = Definitions(
    assets=[raw_products_parquet, ods_fct_products, dm_fct_ecommerce],
    asset_checks=[dm_fct_ecommerce__yesterday_present],
    jobs=[*ALL_JOBS, dm_freshness_job],
    schedules=[raw_products_daily_schedule, dm_freshness_schedule],
    sensors=[automation_sensor, raw_snapshot_s3_sensor, run_failure_alert_sensor],
    resources=build_resources(),
)
