"""product_changes_gap_sensor: the changes the graph cannot know are stale, because they depend on data — a
day whose previous snapshot is not the day before (the first day, or a gap), and the next loaded day after a
gap. Everything else (the day itself, the day after) follows from the declared partition mapping."""

from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetRecordsFilter,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from ecommerce_assets.defs.products.history import next_snapshot, previous_snapshot
from ecommerce_assets.defs.products.jobs import dm_ecommerce_job, ecommerce_daily_job, warehouse_job
from ecommerce_assets.defs.products.keys import CHANGES, MART, ODS
from ecommerce_assets.pace import DEFAULT_PACE, SensorPace
from ecommerce_assets.run_health import IN_FLIGHT
from ecommerce_assets.warehouse import WarehouseResource

# the named jobs that derive the changes: their runs (Airflow's, the CLI's) carry the job's name, not a selection
DERIVING_JOBS = frozenset({dm_ecommerce_job.name, ecommerce_daily_job.name, warehouse_job.name})


def in_flight(context: SensorEvaluationContext, day: date, since: float) -> bool:
    """A run of the day that will derive its changes is queued or running, and was created after `since` (a
    load's time): it reads that load. A run created before may have derived the day already, from the
    snapshots it saw then, and does not count. (Two clocks: the load's event time is the run worker's, in
    UTC; a run's creation is PostgreSQL's CURRENT_TIMESTAMP, stored without a zone in the server's TimeZone —
    UTC here and in the compose stack. Under a zone east of UTC every queued run would count, as before this
    rule; west of it none would, and the day is derived once more. A clock-free rule would compare the run's
    first event id with the load's.)"""
    runs = context.instance.get_runs(RunsFilter(tags={"dagster/partition": str(day)}, statuses=IN_FLIGHT,
                                                created_after=datetime.fromtimestamp(since, UTC)))
    return any(CHANGES in (run.asset_selection or set()) or (run.asset_selection is None and run.job_name in DERIVING_JOBS)
               for run in runs)


GAP_SENSOR = "product_changes_gap_sensor"


def product_changes_gap_sensor(pace: SensorPace = DEFAULT_PACE) -> SensorDefinition:
    return sensor(
        name=GAP_SENSOR,
        minimum_interval_seconds=pace.seconds(30),
        default_status=DefaultSensorStatus.RUNNING,
        asset_selection=[CHANGES, MART],
        description="Where a day is missing, derives again the changes (and mart) the partition mapping cannot "
                    "reach: a loaded day whose previous snapshot is older than the day before, and the next loaded "
                    "day after a gap. Once per load.",
    )(_request_stale_changes)


def _request_stale_changes(context: SensorEvaluationContext, warehouse: WarehouseResource) -> SensorResult:
    cursor = int(context.cursor or 0)
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=ODS, after_storage_id=cursor), limit=500, ascending=True
    ).records
    requested: dict[str, RunRequest] = {}
    with warehouse.connect() as conn:
        for record in records:
            cursor = max(cursor, record.storage_id)
            if record.partition_key is None:
                continue
            day = date.fromisoformat(record.partition_key)
            stale: list[tuple[date, str]] = []
            before = previous_snapshot(conn, day)
            if before is None or before < day - timedelta(days=1):
                stale.append((day, f"{day}'s previous snapshot is {before or 'none'}, not the day before"))
            after = next_snapshot(conn, day)
            if after is not None and after > day + timedelta(days=1):
                stale.append((after, f"{day} loaded: {after}, after a gap, compares with it now"))
            for target, why in stale:
                already = context.instance.fetch_materializations(
                    AssetRecordsFilter(asset_key=CHANGES, asset_partitions=[str(target)],
                                       after_storage_id=record.storage_id), limit=1,
                ).records
                if already or in_flight(context, target, record.timestamp):
                    continue  # derived after this load already, or about to be (by Airflow's run, say)
                requested[str(target)] = RunRequest(
                    run_key=f"{record.partition_key}>{target}@{record.storage_id}",
                    partition_key=str(target), asset_selection=[CHANGES, MART],
                )
                context.log.info(why)
    return SensorResult(run_requests=list(requested.values()), cursor=str(cursor))
