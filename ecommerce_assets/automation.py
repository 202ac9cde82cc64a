"""Declarative automation, shared by every domain: downstream partitions follow their upstream partition, for
any date; assets built from every day follow once their upstream has settled."""

from dagster import AssetSelection, AutomationCondition, AutomationConditionSensorDefinition, DefaultSensorStatus

from ecommerce_assets.pace import DEFAULT_PACE, SensorPace


def _eager_any_day() -> AutomationCondition:
    """`eager()` without its latest-time-window restriction (Dagster issue #24474)."""
    return AutomationCondition.eager().without(AutomationCondition.in_latest_time_window())


def follows_upstream() -> AutomationCondition:
    """`eager()` without its latest-time-window restriction (Dagster issue #24474), so a raw snapshot of any
    past day, not only yesterday's, brings its ODS and mart partitions up to date.

    Kept from eager(): request a partition once when an upstream partition is updated (after a successful
    run, or a reported materialization), never while the upstream or the asset itself is in progress, never
    while an upstream partition is missing, and not again until that request has been handled; a run that
    already targets the downstream asset (the whole chain) is not followed by a second one.

    Added: not on the tick that first sees an upstream update made by a run that also builds this asset (the
    gap sensor's run of a day's changes and mart, say). eager() reads the event log and the runs at different
    moments, so a tick can see that run's upstream update and the run over but not yet this asset's own
    update, and ask for a redundant second build; one tick later its own update is seen and the request is
    no longer due (when that run did not build it after all, it is requested then, one tick late).
    """
    return (_eager_any_day()
            & ~AutomationCondition.any_deps_match(
                AutomationCondition.newly_updated() & AutomationCondition.executed_with_root_target()
            ).with_label("an upstream just updated by a run that builds this asset too"))


def follows_upstream_days() -> AutomationCondition:
    """follows_upstream() for an asset whose day D also reads an upstream's other days (a time-window
    partition mapping: the day before, say). An upstream update counts even when its run also built this
    asset — for another day: the run that loads D and derives D makes D+1 stale. (eager() ignores updates made
    by runs that targeted this asset, whatever the partition; a day built in the same run as its upstream is
    still handled, and not requested again.) Without follows_upstream()'s one-tick deferral, which would
    defer exactly these requests (and a one-off evaluation, the local runner's, would stop before them)."""
    return _eager_any_day().replace("any_deps_updated", AutomationCondition.any_deps_match(
        AutomationCondition.newly_updated() | AutomationCondition.will_be_requested()).with_label("any_deps_updated"))


def after_updates() -> AutomationCondition:
    """For an asset built from every day of its upstream (not partitioned by day): once after upstream
    partitions were updated — when none is in progress or about to be, so a backfill or a whole chain brings
    one update, not one per partition. An update is handled by a request made after it, not by the asset's next
    materialization (Dagster's `since_last_handled()`): a run started before the update may end after it
    without having seen it — the history run of one day ending after the next day's ODS landed — and the update
    would wait for the next load. (A request is seen by the tick after it, so an update landing within that one
    tick still counts as handled by it.) The cost: a materialization nobody requested (a manual one) is followed
    by a request for the updates before it, a rebuild that finds nothing new."""
    handled = (AutomationCondition.newly_requested() | AutomationCondition.initial_evaluation()).with_label(
        "requested since")
    return (
        AutomationCondition.any_deps_match(AutomationCondition.newly_updated()).since(handled)
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.any_deps_match(AutomationCondition.will_be_requested())
        & ~AutomationCondition.in_progress()
    ).with_label("after upstream updates, once none is in flight")


def after_checked_updates() -> AutomationCondition:
    """after_updates(), and only while every blocking check of the upstream holds (a failed gate on any day
    stops what follows until the day is loaded again and passes)."""
    return (after_updates() & AutomationCondition.all_deps_blocking_checks_passed()).with_label(
        "after upstream updates whose gates hold, once none is in flight")


def automation_sensor(pace: SensorPace = DEFAULT_PACE) -> AutomationConditionSensorDefinition:
    return AutomationConditionSensorDefinition(
        "ecommerce_automation_sensor",
        target=AssetSelection.all(),
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=pace.seconds(15),
        description="Evaluates the assets' automation conditions: each layer follows its upstream, for every day.",
    )
