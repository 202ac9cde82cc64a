"""ODS retention as a job of its own: the days of `ods.fct_products` (and their rejected records) older than
the newest stored day minus $ECOM_ODS_RETENTION_DAYS are dropped — only days the product history has taken
in as they are. Each dropped day is reported to Dagster as an observation of the two assets' partition, and
the job's output lists them. The raw snapshots stay in the lake: a dropped day loads again from its own."""

from datetime import date

from dagster import (
    AssetObservation,
    DefaultScheduleStatus,
    OpExecutionContext,
    Output,
    ScheduleDefinition,
    job,
    op,
)

from ecommerce_assets.defs.products.keys import ODS, ODS_TABLE, REJECTED, REJECTED_TABLE
from ecommerce_assets.partitions import WAREHOUSE_POOL
from ecommerce_assets.resources.retention import RetentionSettings
from ecommerce_assets.retries import STEP_RETRY, heals
from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.warehouse import WarehouseResource

SQL = SqlFiles("ecommerce_assets.defs.products")


def due_days(warehouse: WarehouseResource, keep_days: int) -> list[date]:
    with warehouse.connect() as conn:
        return [row[0] for row in conn.execute(SQL.text("postgres/retention_due.sql"),
                                               {"table_name": ODS_TABLE, "keep_days": keep_days})]


@op(name="retire_ods_products_days", retry_policy=STEP_RETRY, pool=WAREHOUSE_POOL,
    description="Drops the ODS days that fall out of the retention window once the history has them.")
@heals
def retire_ods_products_days(context: OpExecutionContext, warehouse: WarehouseResource,
                             retention: RetentionSettings) -> Output[list[str]]:
    if not retention.ods_days:
        context.log.info("retention is off ($ECOM_ODS_RETENTION_DAYS = 0): every ODS day is kept")
        return Output([], metadata={"days_dropped": 0, "retention_days": 0})
    dropped: list[str] = []
    for day in due_days(warehouse, retention.ods_days):
        rows = warehouse.retire_day(ODS_TABLE, "snapshot_date", day, side_tables=[REJECTED_TABLE])
        for key in (ODS, REJECTED):
            context.log_event(AssetObservation(
                asset_key=key, partition=day.isoformat(),
                description=f"dropped from the warehouse by the retention of {retention.ods_days} days; its raw "
                            "snapshot stays in the lake and loads it again",
                metadata={"retired": True, "retention_days": retention.ods_days,
                          **({"rows_dropped": rows} if key == ODS else {})}))
        dropped.append(day.isoformat())
    if dropped:
        context.log.info(f"retention of {retention.ods_days} days: dropped the ODS days {', '.join(dropped)} "
                         "(their raw snapshots stay in the lake)")
    return Output(dropped, metadata={"days_dropped": len(dropped), "days": ", ".join(dropped) or "none",
                                     "retention_days": retention.ods_days})


@job(name="ods_retention_job", description="Drops ODS product days older than the retention window (reported to "
                                           "Dagster as observations of the days).")
def ods_retention_job() -> None:
    retire_ods_products_days()


ods_retention_schedule = ScheduleDefinition(
    name="ods_retention_schedule",
    job=ods_retention_job,
    cron_schedule="30 6 * * *",
    execution_timezone="Europe/Moscow",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily, after the day's loads: ODS retention ($ECOM_ODS_RETENTION_DAYS; 0 keeps every day).",
)
