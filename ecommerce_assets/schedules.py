"""Schedules every domain shares: the daily fetch of raw snapshots (the old pipeline ran at 05:00
Europe/Moscow), each run for the UTC day that just ended."""

from datetime import UTC, date, timedelta

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    schedule,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

RAW_SCHEDULE_CRON = "0 5 * * *"
RAW_SCHEDULE_TIMEZONE = "Europe/Moscow"


def day_that_just_ended(scheduled_at_utc_date: date) -> str:
    """The partition key of the UTC day before the given UTC date."""
    return (scheduled_at_utc_date - timedelta(days=1)).isoformat()


def daily_snapshot_schedule(name: str, job: UnresolvedAssetJobDefinition, what: str) -> ScheduleDefinition:
    """05:00 Europe/Moscow (02:00 UTC): `job` for the UTC day that just ended, once per day (`run_key`)."""

    @schedule(
        name=name,
        cron_schedule=RAW_SCHEDULE_CRON,
        execution_timezone=RAW_SCHEDULE_TIMEZONE,
        job=job,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"05:00 Europe/Moscow (02:00 UTC): snapshot {what} for the UTC day that just ended.",
    )
    def daily(context: ScheduleEvaluationContext) -> RunRequest:
        partition = day_that_just_ended(context.scheduled_execution_time.astimezone(UTC).date())
        return RunRequest(run_key=partition, partition_key=partition)

    return daily
