"""The only Definitions of the code location."""

from dagster import Definitions

from ecommerce_assets.assets import (
    dm_dim_product_history,
    dm_fct_ecommerce,
    dm_fct_product_changes,
    ods_fct_products,
    raw_products_parquet,
)
from ecommerce_assets.automation import automation_sensor
from ecommerce_assets.checks import (
    dm_fct_ecommerce__yesterday_present,
    dm_freshness_job,
    dm_freshness_schedule,
)
from ecommerce_assets.executors import executor_from_env
from ecommerce_assets.io_managers import PostgresTableIOManager, S3ParquetIOManager
from ecommerce_assets.jobs import ALL_JOBS
from ecommerce_assets.resources.from_env import (
    alert_webhook_from_env,
    catalog_api_from_env,
    duckdb_from_env,
    freshness_from_env,
    lake_from_env,
    postgres_from_env,
    quality_from_env,
    retention_from_env,
)
from ecommerce_assets.schedules import raw_products_daily_schedule
from ecommerce_assets.sensors import product_changes_next_day_sensor, raw_snapshot_s3_sensor, run_failure_alert_sensor


def build_resources() -> dict[str, object]:
    """Every resource with every setting explicit (settings.py: the environment, else the documented
    default; secrets as EnvVar), so the UI's Deployment → Resources page shows the configuration in effect."""
    lake = lake_from_env()
    postgres = postgres_from_env()
    return {
        "catalog_api": catalog_api_from_env(),
        "lake": lake,
        "postgres": postgres,
        "duckdb": duckdb_from_env(),
        "s3_parquet_io_manager": S3ParquetIOManager(lake=lake),
        "postgres_io_manager": PostgresTableIOManager(postgres=postgres),
        "alert_webhook": alert_webhook_from_env(),
        "freshness": freshness_from_env(),
        "quality": quality_from_env(),
        "retention": retention_from_env(),
    }


defs = Definitions(
    assets=[raw_products_parquet, ods_fct_products, dm_fct_product_changes, dm_fct_ecommerce, dm_dim_product_history],
    asset_checks=[dm_fct_ecommerce__yesterday_present],
    jobs=[*ALL_JOBS, dm_freshness_job],
    schedules=[raw_products_daily_schedule, dm_freshness_schedule],
    sensors=[automation_sensor, raw_snapshot_s3_sensor, run_failure_alert_sensor, product_changes_next_day_sensor],
    resources=build_resources(),
    executor=executor_from_env(),
)
