"""Snapshots another system writes into the lake, recorded as materializations of their raw asset."""

import json
from collections.abc import Sequence

from dagster import (
    AssetMaterialization,
    AssetRecordsFilter,
    DefaultSensorStatus,
    MetadataValue,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from ecommerce_assets.lake import LakeResource
from ecommerce_assets.pace import DEFAULT_PACE, SensorPace
from ecommerce_assets.partitions import daily_partitions
from ecommerce_assets.run_health import IN_FLIGHT
from ecommerce_assets.snapshots.endpoint import Endpoint


def _known_etag(context: SensorEvaluationContext, endpoint: Endpoint, partition: str) -> str | None:
    """The ETag recorded by the latest materialization of the raw partition (written or reported)."""
    result = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=endpoint.asset_key, asset_partitions=[partition]), limit=1
    )
    for record in result.records:
        materialization = record.asset_materialization
        if materialization is not None and "etag" in materialization.metadata:
            return str(materialization.metadata["etag"].value).strip('"')
    return None


def _day_in_flight(context: SensorEvaluationContext, partition: str) -> bool:
    """A run of the day is queued or running: it may be the pipeline itself, its object published and the
    materialization that records the object's ETag not stored yet."""
    for run in context.instance.get_runs(RunsFilter(statuses=IN_FLIGHT)):
        start = run.tags.get("dagster/asset_partition_range_start")
        end = run.tags.get("dagster/asset_partition_range_end")
        if run.tags.get("dagster/partition") == partition or (start and end and start <= partition <= end):
            return True
    return False


def lake_snapshot_sensor(endpoints: Sequence[Endpoint], pace: SensorPace = DEFAULT_PACE) -> SensorDefinition:
    """`raw_snapshot_s3_sensor`: an object written or replaced at an endpoint's snapshot key by anything but the
    pipeline is reported as a materialization of that endpoint's raw asset for its day (so what follows it
    runs). The cursor maps each key to its ETag; the pipeline's own writes carry their ETag in their
    materialization and are not reported again — and an object whose day has a run in flight is looked at again
    once that run has ended (the pipeline's own write is published a moment before its materialization is
    stored: a tick in between reported it as another system's). Endpoints of personal data are left out: their
    snapshots are only ever the pipeline's own (reduced before they are written), never taken from another
    writer."""
    endpoints = [endpoint for endpoint in endpoints if not endpoint.personal]

    @sensor(
        name="raw_snapshot_s3_sensor",
        minimum_interval_seconds=pace.seconds(60),
        default_status=DefaultSensorStatus.RUNNING,
        asset_selection=[endpoint.asset_key for endpoint in endpoints],
        description="Records a raw snapshot written or replaced in the bucket by another system as a "
                    "materialization of its raw asset for its date, so the layers after it follow.",
    )
    def raw_snapshot_s3_sensor(context: SensorEvaluationContext, lake: LakeResource) -> SensorResult:
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        valid_partitions = set(daily_partitions.get_partition_keys())
        events: list[AssetMaterialization] = []
        for endpoint in endpoints:
            for key, etag, entry in lake.objects(f"{endpoint.location.prefix}/"):
                if seen.get(key) == etag:
                    continue
                partition = endpoint.location.partition_of(key)
                if partition is None or partition not in valid_partitions:
                    seen[key] = etag
                    context.log.warning(f"ignoring {lake.uri(key)}: not a raw snapshot key of a known daily partition")
                    continue
                if _known_etag(context, endpoint, partition) == etag:
                    seen[key] = etag
                    continue  # written by the pipeline itself, or reported already
                if _day_in_flight(context, partition):
                    continue  # not judged yet: the next tick decides, once the day's runs have ended
                seen[key] = etag
                context.log.info(f"external snapshot for {partition}: {lake.uri(key)} ({etag})")
                events.append(AssetMaterialization(
                    asset_key=endpoint.asset_key,
                    partition=partition,
                    description="snapshot written to the lake outside Dagster",
                    metadata={
                        "uri": MetadataValue.path(lake.uri(key)),
                        "etag": etag,
                        "bytes": int(entry["Size"]),
                        "last_modified": str(entry["LastModified"]),
                        "source": "external",
                    },
                ))
        return SensorResult(asset_events=events, cursor=json.dumps(seen, sort_keys=True))

    return raw_snapshot_s3_sensor
