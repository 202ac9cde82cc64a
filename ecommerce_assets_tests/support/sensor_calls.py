"""The heal and alert sensors evaluated once, as the daemon would, on a real instance: for the tests of the
sensors and for the fault report."""

from typing import Any

from dagster import (
    DagsterEventType,
    DagsterInstance,
    SensorResult,
    SkipReason,
    build_run_status_sensor_context,
    build_sensor_context,
)

from ecommerce_assets.resources.alerts import AlertWebhookResource
from ecommerce_assets.resources.quality_settings import HealingSettings
from ecommerce_assets.sensors import heal_sensor, run_failure_alert_sensor


def _resources(webhook_url: str, healing: dict[str, Any]) -> dict[str, Any]:
    return {"alert_webhook": AlertWebhookResource(url=webhook_url, backoff_factor=0.01),
            "healing": HealingSettings(**healing)}


def heal(instance: DagsterInstance, webhook_url: str, **healing: Any) -> SensorResult | SkipReason:
    """One tick of heal_sensor with HealingSettings(**healing)."""
    with build_sensor_context(instance=instance, resources=_resources(webhook_url, healing)) as context:
        return heal_sensor()(context)  # type: ignore[no-any-return]


def alert(instance: DagsterInstance, run_id: str, webhook_url: str, **healing: Any) -> None:
    """run_failure_alert_sensor on the failed run `run_id`."""
    run = instance.get_run_by_id(run_id)
    failure = next(r.event_log_entry.dagster_event for r in instance.get_records_for_run(
        run_id, of_type=DagsterEventType.RUN_FAILURE).records)
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor", dagster_event=failure, dagster_instance=instance, dagster_run=run,
        resources=_resources(webhook_url, healing)).for_run_failure()
    run_failure_alert_sensor()(context)
