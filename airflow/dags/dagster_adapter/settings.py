"""Constants shared by the adapter DAGs: names in Dagster, the schedule of the old pipeline, timeouts."""

from datetime import timedelta

DAGSTER_CONN_ID = "dagster_default"

RAW_ASSET, RAW_JOB = "raw_products_parquet", "raw_products_job"
ODS_ASSET, ODS_JOB = "ods_fct_products", "ods_products_job"
DM_ASSET, DM_JOB = "dm_fct_ecommerce", "dm_ecommerce_job"

SCHEDULE_CRON = "0 5 * * *"          # the old pipeline's time, in the old pipeline's time zone
SCHEDULE_TIMEZONE = "Europe/Moscow"

POLL_SECONDS = 5.0
RUN_TIMEOUT = timedelta(hours=2)      # an Airflow task timing out terminates its Dagster run
SENSOR_TIMEOUT = timedelta(hours=6)
SENSOR_POKE_SECONDS = 60

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "execution_timeout": RUN_TIMEOUT,
}
