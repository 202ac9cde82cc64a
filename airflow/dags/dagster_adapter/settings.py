"""Constants shared by the adapter DAGs: names in Dagster, the schedule of the old pipeline, timeouts."""

from datetime import timedelta

DAGSTER_CONN_ID = "dagster_default"

RAW_ASSET, RAW_JOB = "raw_products_parquet", "raw_products_job"
ODS_ASSET, ODS_JOB = "ods_fct_products", "ods_products_job"
DM_ASSET, DM_JOB = "dm_fct_ecommerce", "dm_ecommerce_job"

SCHEDULE_CRON = "0 5 * * *"          # the old pipeline's time, in the old pipeline's time zone
SCHEDULE_TIMEZONE = "Europe/Moscow"

POLL_SECONDS = 5.0
# Right after our submission, a run another submitter created in the same moment (Dagster's automation, whose tick
# read the partition's state before our run existed) is looked for this often, for this long: the daemon takes a
# queued run out of the queue within its 5-second dequeue interval, and only a run still queued can be cancelled.
# The window outlasts the automation sensor's 15-second interval.
SETTLE_POLL_SECONDS = 0.5
SETTLE_WINDOW_SECONDS = 30.0
RUN_TIMEOUT = timedelta(hours=2)      # an Airflow task timing out terminates its Dagster run
SENSOR_TIMEOUT = timedelta(hours=6)
SENSOR_POKE_SECONDS = 60

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "execution_timeout": RUN_TIMEOUT,
}
