"""The daily schedule of the raw layer (the old pipeline ran at 05:00 Europe/Moscow)."""

from datetime import UTC, date, timedelta

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from ecommerce_assets.jobs import raw_products_job

RAW_SCHEDULE_CRON = "0 5 * * *"
RAW_SCHEDULE_TIMEZONE = "Europe/Moscow"


def day_that_just_ended(scheduled_at_utc_date: date) -> str:
    """The partition key of the UTC day before the given UTC date."""
    return (scheduled_at_utc_date - timedelta(days=1)).isoformat()


@schedule(
    name="raw_products_daily_schedule",
    cron_schedule=RAW_SCHEDULE_CRON,
    execution_timezone=RAW_SCHEDULE_TIMEZONE,
    job=raw_products_job,
    default_status=DefaultScheduleStatus.RUNNING,
    description="05:00 Europe/Moscow (02:00 UTC): snapshot the catalog for the UTC day that just ended.",
)
def raw_products_daily_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    scheduled = context.scheduled_execution_time.astimezone(UTC)
    partition = day_that_just_ended(scheduled.date())
    return RunRequest(run_key=partition, partition_key=partition)
