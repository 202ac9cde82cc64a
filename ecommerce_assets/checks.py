"""Asset checks beyond the assets' own: the mart's daily freshness."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetRecordsFilter,
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    asset_check,
    define_asset_job,
)

from ecommerce_assets.assets.dm import dm_fct_ecommerce
from ecommerce_assets.resources.quality_settings import FreshnessSettings


def expected_partition(now: datetime, deadline: time, zone: ZoneInfo) -> date:
    """The newest daily partition that must exist at `now`. Partitions are UTC days; a day is due at the
    first deadline (wall-clock time in `zone`) after it has ended in UTC. So at the latest deadline that
    has passed, every UTC day that had ended by then is due."""
    local = now.astimezone(zone)
    today_deadline = datetime.combine(local.date(), deadline, tzinfo=zone)
    last_deadline = today_deadline if local >= today_deadline else \
        datetime.combine(local.date() - timedelta(days=1), deadline, tzinfo=zone)
    return last_deadline.astimezone(UTC).date() - timedelta(days=1)


@asset_check(
    asset=dm_fct_ecommerce,
    name="dm_fct_ecommerce__yesterday_present",
    description="Yesterday's mart partition exists once the daily deadline has passed.",
)
def dm_fct_ecommerce__yesterday_present(
    context: AssetCheckExecutionContext, freshness: FreshnessSettings
) -> AssetCheckResult:
    deadline, zone = freshness.resolved()
    partition = expected_partition(datetime.now(UTC), deadline, zone).isoformat()
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("dm_fct_ecommerce"), asset_partitions=[partition]), limit=1
    ).records
    present = bool(records)
    return AssetCheckResult(
        passed=present,
        severity=AssetCheckSeverity.WARN,
        description=None if present else f"partition {partition} of dm_fct_ecommerce is missing after "
                                         f"the {deadline:%H:%M} {zone.key} deadline",
        metadata={
            "expected_partition": partition,
            "deadline": f"{deadline:%H:%M} {zone.key}",
            "materialized_at": (datetime.fromtimestamp(records[0].timestamp, UTC).isoformat()
                                if present else "never"),
        },
    )


dm_freshness_job = define_asset_job(
    "dm_freshness_check_job",
    selection=AssetSelection.checks(dm_fct_ecommerce__yesterday_present),
    description="Checks that yesterday's mart exists by the deadline.",
)

dm_freshness_schedule = ScheduleDefinition(
    name="dm_freshness_schedule",
    job=dm_freshness_job,
    cron_schedule="15 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Hourly: is yesterday's dm_fct_ecommerce partition there once the deadline has passed?",
)
