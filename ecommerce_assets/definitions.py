"""The only Definitions of the code location: every domain's registrations, what they share, and the
resources — explicit, so the same definitions run on any services (`build_defs`), and from the environment
for the code location (`defs`)."""

from collections.abc import Mapping
from typing import Any

from dagster import (
    DefaultSensorStatus,
    Definitions,
    ExecutorDefinition,
    build_sensor_for_freshness_checks,
    build_time_partition_freshness_checks,
)

from ecommerce_assets.automation import automation_sensor
from ecommerce_assets.defs import products, sales
from ecommerce_assets.environment import resources_from_env, sensor_pace_from_env
from ecommerce_assets.executors import executor_from_env
from ecommerce_assets.pace import DEFAULT_PACE, SensorPace
from ecommerce_assets.resources.quality_settings import FreshnessSettings
from ecommerce_assets.sensors import dead_run_sensor, heal_sensor, run_failure_alert_sensor
from ecommerce_assets.snapshots import lake_snapshot_sensor

DOMAINS = [products, sales]
FOLLOW_UP_SENSORS = [name for domain in DOMAINS for name in domain.FOLLOW_UP_SENSORS]


def freshness(settings: FreshnessSettings, pace: SensorPace = DEFAULT_PACE) -> Definitions:
    """Dagster's freshness checks of the daily marts, run by their own sensor (never inside a job that
    materializes the marts): yesterday's partition must exist once the deadline has passed."""
    deadline, zone = settings.resolved()
    checks = build_time_partition_freshness_checks(
        assets=[products.MART], deadline_cron=f"{deadline.minute} {deadline.hour} * * *", timezone=zone.key)
    sensor = build_sensor_for_freshness_checks(freshness_checks=checks, name="freshness_checks_sensor",
                                               minimum_interval_seconds=pace.seconds(600), default_status=DefaultSensorStatus.RUNNING)
    return Definitions(asset_checks=checks, sensors=[sensor])


def build_defs(resources: Mapping[str, Any], executor: ExecutorDefinition | None = None,
               pace: SensorPace = DEFAULT_PACE) -> Definitions:
    """Every domain's definitions, the shared sensors and checks, on `resources` (what `resources_from_env`
    gives: the same keys), the sensors at `pace`."""
    endpoints = [endpoint for domain in DOMAINS for endpoint in domain.ENDPOINTS]
    shared = Definitions(sensors=[automation_sensor(pace), lake_snapshot_sensor(endpoints, pace),
                                  run_failure_alert_sensor(pace), heal_sensor(pace), dead_run_sensor(pace)],
                         resources=dict(resources), executor=executor)
    return Definitions.merge(*(domain.definitions(pace) for domain in DOMAINS),
                             freshness(resources["freshness"], pace), shared)


defs = build_defs(resources_from_env(), executor_from_env(), sensor_pace_from_env())
