"""Sensors every domain shares: dead runs freed, transient failures run again, alerts for what cannot heal."""

from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRecord,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)
from dagster._core.storage.tags import PARTITION_NAME_TAG, SENSOR_NAME_TAG  # on every run of a partition / a sensor

from ecommerce_assets.diagnosis import describe_error
from ecommerce_assets.failure_classes import Verdict
from ecommerce_assets.healing import GAVE_UP_TAG, Decision, decisions, run_verdict
from ecommerce_assets.pace import DEFAULT_PACE, SensorPace
from ecommerce_assets.resources.alerts import AlertWebhookResource
from ecommerce_assets.resources.quality_settings import HealingSettings
from ecommerce_assets.run_health import free_dead_runs


def _fix(verdict: Verdict, partition: str | None, run_id: str) -> str:
    where = f" --partition {partition}" if partition else ""
    if verdict.transient:
        return (f"→ bring the service back, then re-execute run {run_id} from failure in the UI (Runs), or "
                f"`dagster asset materialize -m ecommerce_assets.definitions --select <asset>{where}`")
    return (f"→ fix the cause above (docs/operations.md#when-something-fails), then re-execute run {run_id} from "
            f"failure in the UI, or `dagster asset materialize -m ecommerce_assets.definitions --select <asset>{where}`")


def failure_message(context: RunFailureSensorContext, verdict: Verdict | None = None) -> dict[str, Any]:
    """What failed, for the log and the webhook: run, job, partition, assets, the errors, the cause's class
    and the fix."""
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
    partition = run.tags.get(PARTITION_NAME_TAG)
    summary = (f"Dagster run {run.run_id} of {run.job_name} failed"
               + (f" for partition {partition}" if partition else "")
               + (f" (assets: {', '.join(assets)})" if assets else ""))
    text = summary + ("\n" + "\n".join(errors) if errors else f"\n{context.failure_event.message}")
    message: dict[str, Any] = {"run_id": run.run_id, "job": run.job_name, "partition": partition, "assets": assets,
                               "errors": errors or [context.failure_event.message or ""]}
    if verdict is not None:
        text += f"\n{verdict.kind}: {verdict.cause}\n{_fix(verdict, partition, run.run_id)}"
        message.update({"failure_class": verdict.kind, "cause": verdict.cause})
    return {"text": text, **message}


def run_failure_alert_sensor(pace: SensorPace = DEFAULT_PACE) -> SensorDefinition:
    return run_failure_sensor(
        name="run_failure_alert_sensor",
        minimum_interval_seconds=pace.seconds(30),
        default_status=DefaultSensorStatus.RUNNING,
        description="Alerts once for every failed run that cannot heal by itself — a permanent cause, at once (log, "
                    "and $ECOM_ALERT_WEBHOOK_URL when set); a transient one is left to heal_sensor, which alerts "
                    "when its window is spent. A run a sensor started (the automation's) that fails for the same day "
                    "on the same permanent cause as an earlier run is not alerted again.",
    )(_alert)


def _alert(context: RunFailureSensorContext, alert_webhook: AlertWebhookResource, healing: HealingSettings) -> None:
    record = context.instance.get_run_record_by_id(context.dagster_run.run_id)
    verdict = run_verdict(context.instance, record) if record is not None else None
    if verdict is not None and verdict.transient and verdict.rerun and healing.window_hours > 0:
        context.log.info(f"run {context.dagster_run.run_id} failed on a transient cause ({verdict.cause}): "
                         "heal_sensor runs it again; no alert unless it cannot heal")
        return
    said = _said_already(context.instance, record, verdict) if record is not None else None
    if said is not None:
        context.log.info(f"run {context.dagster_run.run_id}, started by {context.dagster_run.tags[SENSOR_NAME_TAG]}, failed "
                         f"on the same permanent cause as run {said} of the same day, alerted already: no second alert")
        return
    message = failure_message(context, verdict)
    context.log.error(message["text"])
    _send(context, alert_webhook, message)


def _said_already(instance: DagsterInstance, record: RunRecord, verdict: Verdict | None) -> str | None:
    """An earlier failed run of the same day with the same permanent cause, when this run was started by a
    sensor (the automation, say, taking the day on again): its alert already said everything this one would.
    A run a person started alerts again."""
    run = record.dagster_run
    partition = run.tags.get(PARTITION_NAME_TAG)
    if verdict is None or verdict.transient or partition is None or SENSOR_NAME_TAG not in run.tags:
        return None
    for other in instance.get_run_records(RunsFilter(tags={PARTITION_NAME_TAG: partition},
                                                     statuses=[DagsterRunStatus.FAILURE])):
        if other.dagster_run.run_id == run.run_id or other.create_timestamp >= record.create_timestamp:
            continue
        earlier = run_verdict(instance, other)
        if not earlier.transient and earlier.cause == verdict.cause:
            return other.dagster_run.run_id
    return None


def _send(context: Any, alert_webhook: AlertWebhookResource, message: dict[str, Any]) -> None:
    outcome = alert_webhook.send(message)
    if outcome.startswith("failed"):
        context.log.warning(f"alert webhook {outcome}; the failure is in the log above")


def _gave_up_message(decision: Decision, hours: float) -> dict[str, Any]:
    assets = [key.to_user_string() for key in decision.assets]
    text = (f"Dagster run {decision.run_id} for {decision.where()} could not heal in {hours:g} h "
            f"({decision.attempt} re-runs; assets not materialized: {', '.join(assets)})\n"
            f"transient: {decision.verdict.cause}\n{_fix(decision.verdict, decision.partition, decision.run_id)}")
    return {"text": text, "run_id": decision.run_id, "partition": decision.partition, "assets": assets,
            "failure_class": "transient", "cause": decision.verdict.cause, "errors": [decision.verdict.cause]}


def heal_sensor(pace: SensorPace = DEFAULT_PACE) -> SensorDefinition:
    return sensor(
        name="heal_sensor",
        minimum_interval_seconds=pace.seconds(30),
        default_status=DefaultSensorStatus.RUNNING,
        asset_selection=AssetSelection.all(),
        description="Runs again what a run that failed on a transient cause did not materialize, same partition, "
                    "after 2, 4, 8 … 60 minutes, for $ECOM_HEAL_WINDOW hours (default 6); then alerts once.",
    )(_heal)


def _heal(context: SensorEvaluationContext, alert_webhook: AlertWebhookResource,
          healing: HealingSettings) -> SensorResult | SkipReason:
    window = healing.window()
    if not window:
        return SkipReason("ECOM_HEAL_WINDOW=0: failed runs are not run again")
    requests = []
    waiting = 0
    graph = context.repository_def.asset_graph if context.repository_def else None
    for decision in decisions(context.instance, datetime.now(UTC), window, healing.first_delay()):
        if decision.action == "wait":
            waiting += 1
        elif decision.action == "give_up":
            context.instance.add_run_tags(decision.run_id, {GAVE_UP_TAG: "true"})
            message = _gave_up_message(decision, window.total_seconds() / 3600)
            context.log.error(message["text"])
            _send(context, alert_webhook, message)
        else:
            context.log.info(f"running {decision.where()} again (re-run {decision.attempt + 1}) after run "
                             f"{decision.run_id} failed: {decision.verdict.cause}")
            # a multi-asset is run whole: what it did not materialize with the assets it makes alongside
            assets = (sorted(AssetSelection.assets(*decision.assets).required_multi_asset_neighbors().resolve(graph),
                             key=lambda key: key.to_user_string()) if graph is not None else decision.assets)
            requests.append(RunRequest(run_key=f"heal:{decision.heals}:{decision.attempt + 1}",
                                       asset_selection=assets, partition_key=decision.partition, tags=decision.tags()))
    if not requests:
        return SkipReason(f"{waiting} failed runs wait for their next re-run" if waiting else "nothing to heal")
    return SensorResult(run_requests=requests)


def dead_run_sensor(pace: SensorPace = DEFAULT_PACE) -> SensorDefinition:
    return sensor(
        name="dead_run_sensor",
        minimum_interval_seconds=pace.seconds(60),
        default_status=DefaultSensorStatus.RUNNING,
        description="Marks failed every run of this host whose process is gone (killed, lost) and frees its pool "
                    "slots, so later runs do not wait for ever; heal_sensor then runs it again.",
    )(_free_dead_runs)


def _free_dead_runs(context: SensorEvaluationContext) -> SkipReason:
    freed = free_dead_runs(context.instance, "dead_run_sensor")
    for run in freed:
        context.log.warning(run.line())
    return SkipReason(f"freed {len(freed)} dead runs" if freed else "no dead run")
