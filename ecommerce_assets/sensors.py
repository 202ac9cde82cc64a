"""Sensors: raw snapshots dropped into the lake by other systems, the changes of the day after a late or
reloaded ODS day, and alerts on failed runs."""

import json
from datetime import date
from typing import Any

from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetRecordsFilter,
    DagsterEventType,
    DefaultSensorStatus,
    MetadataValue,
    RunFailureSensorContext,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    run_failure_sensor,
    sensor,
)

from ecommerce_assets.diagnosis import describe_error
from ecommerce_assets.lake_keys import RAW_PRODUCTS_LOCATION, snapshot_partition
from ecommerce_assets.partitions import daily_partitions
from ecommerce_assets.product_history import next_snapshot
from ecommerce_assets.resources.alerts import AlertWebhookResource
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets.resources.postgres import PostgresResource

RAW_KEY = AssetKey("raw_products_parquet")
ODS_KEY = AssetKey("ods_fct_products")
CHANGES_KEY = AssetKey("dm_fct_product_changes")
MART_KEY = AssetKey("dm_fct_ecommerce")


def _known_etag(context: SensorEvaluationContext, partition: str) -> str | None:
    """The ETag recorded by the latest materialization of the raw partition (written or reported)."""
    result = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=RAW_KEY, asset_partitions=[partition]), limit=1
    )
    for record in result.records:
        materialization = record.asset_materialization
        if materialization is not None and "etag" in materialization.metadata:
            return str(materialization.metadata["etag"].value).strip('"')
    return None


@sensor(
    name="raw_snapshot_s3_sensor",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    asset_selection=[RAW_KEY],
    description="Records a raw snapshot written or replaced in the bucket by another system as a "
                "materialization of raw_products_parquet for its date, so ODS and mart follow.",
)
def raw_snapshot_s3_sensor(context: SensorEvaluationContext, lake: S3LakeResource) -> SensorResult:
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    valid_partitions = set(daily_partitions.get_partition_keys())
    events: list[AssetMaterialization] = []
    client = lake.client()
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=lake.bucket_name(), Prefix=f"{RAW_PRODUCTS_LOCATION.prefix}/"
    )
    for page in pages:
        for obj in page.get("Contents", []):
            # S3 quotes ETags; some S3-compatible servers (rclone) list them bare
            key, etag = str(obj["Key"]), str(obj["ETag"]).strip('"')
            if seen.get(key) == etag:
                continue
            seen[key] = etag
            partition = snapshot_partition(key)
            if partition is None or partition not in valid_partitions:
                context.log.warning(f"ignoring {lake.uri(key)}: not a raw snapshot key of a known daily partition")
                continue
            if _known_etag(context, partition) == etag:
                continue  # written by the pipeline itself, or reported already
            context.log.info(f"external snapshot for {partition}: {lake.uri(key)} ({etag})")
            events.append(AssetMaterialization(
                asset_key=RAW_KEY,
                partition=partition,
                description="snapshot written to the lake outside Dagster",
                metadata={
                    "uri": MetadataValue.path(lake.uri(key)),
                    "etag": etag,
                    "bytes": int(obj["Size"]),
                    "last_modified": str(obj["LastModified"]),
                    "source": "external",
                },
            ))
    return SensorResult(asset_events=events, cursor=json.dumps(seen, sort_keys=True))


@sensor(
    name="product_changes_next_day_sensor",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    asset_selection=[CHANGES_KEY, MART_KEY],
    description="When an ODS day is loaded or reloaded, the next loaded day's changes (and mart) are derived "
                "again against it — the declarative automation follows the same day only.",
)
def product_changes_next_day_sensor(context: SensorEvaluationContext, postgres: PostgresResource) -> SensorResult:
    cursor = int(context.cursor or 0)
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=ODS_KEY, after_storage_id=cursor), limit=500, ascending=True
    ).records
    requested: dict[str, RunRequest] = {}
    with postgres.connect() as conn:
        for record in records:
            cursor = max(cursor, record.storage_id)
            if record.partition_key is None:
                continue
            following = next_snapshot(conn, date.fromisoformat(record.partition_key))
            if following is None:
                continue
            already = context.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=CHANGES_KEY, asset_partitions=[str(following)],
                                   after_storage_id=record.storage_id), limit=1,
            ).records
            if already:
                continue  # derived after this load already
            requested[str(following)] = RunRequest(
                run_key=f"{record.partition_key}>{following}@{record.storage_id}",
                partition_key=str(following), asset_selection=[CHANGES_KEY, MART_KEY],
            )
            context.log.info(f"ODS {record.partition_key} loaded: the changes of {following} compare with it now")
    return SensorResult(run_requests=list(requested.values()), cursor=str(cursor))


def failure_message(context: RunFailureSensorContext) -> dict[str, Any]:
    """What failed, for the log and the webhook: run, job, partition, assets and the errors."""
    run = context.dagster_run
    errors = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        text = describe_error(data.error) if data is not None and data.error is not None else event.message
        errors.append(f"{event.step_key}: {text}")
    planned = context.instance.get_records_for_run(
        run_id=run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    ).records
    assets = sorted({r.event_log_entry.dagster_event.asset_key.to_user_string() for r in planned
                     if r.event_log_entry.dagster_event and r.event_log_entry.dagster_event.asset_key})
    partition = run.tags.get("dagster/partition")
    summary = (f"Dagster run {run.run_id} of {run.job_name} failed"
               + (f" for partition {partition}" if partition else "")
               + (f" (assets: {', '.join(assets)})" if assets else ""))
    return {
        "text": summary + ("\n" + "\n".join(errors) if errors else f"\n{context.failure_event.message}"),
        "run_id": run.run_id,
        "job": run.job_name,
        "partition": partition,
        "assets": assets,
        "errors": errors or [context.failure_event.message or ""],
    }


@run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=DefaultSensorStatus.RUNNING,
    description="Logs every failed run and posts it to $ECOM_ALERT_WEBHOOK_URL when set.",
)
def run_failure_alert_sensor(context: RunFailureSensorContext, alert_webhook: AlertWebhookResource) -> None:
    message = failure_message(context)
    context.log.error(message["text"])
    outcome = alert_webhook.send(message)
    if outcome.startswith("failed"):
        context.log.warning(f"alert webhook {outcome}; the failure is in the log above")
