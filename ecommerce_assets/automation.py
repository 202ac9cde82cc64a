"""Declarative automation: downstream partitions follow their upstream partition, for any date."""

from dagster import AssetSelection, AutomationCondition, AutomationConditionSensorDefinition, DefaultSensorStatus


def follows_upstream() -> AutomationCondition:
    """`eager()` without its latest-time-window restriction (Dagster issue #24474), so a raw snapshot of any
    past day, not only yesterday's, brings its ODS and mart partitions up to date.

    Kept from eager(): request a partition once when an upstream partition is updated (after a successful
    run, or a reported materialization), never while the upstream or the asset itself is in progress, never
    while an upstream partition is missing, and not again until that request has been handled; a run that
    already targets the downstream asset (the whole chain) is not followed by a second one.
    """
    return AutomationCondition.eager().without(AutomationCondition.in_latest_time_window())


automation_sensor = AutomationConditionSensorDefinition(
    "ecommerce_automation_sensor",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
    description="Evaluates the assets' automation conditions: ODS and mart follow every raw snapshot.",
)
