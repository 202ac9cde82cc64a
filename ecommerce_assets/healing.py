"""Days that heal by themselves: a run that failed on a transient cause (its steps' retries spent, or its
process dead) is run again — what it did not materialize, for the same partition — after 2, 4, 8 … up to 60
minutes, for $ECOM_HEAL_WINDOW hours (`HealingSettings`) from the first failure; then it is given up and alerted once. A run
that failed on a permanent cause is never run again (alerted at once, by the failure sensor). Whatever
launched the run — a schedule, a sensor, the automation, a backfill, the UI, the Airflow adapter — the
re-run is the same: a run of the missing assets, tagged with the run it heals. Decisions only; `sensors.py`
turns them into run requests and alerts."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from dagster import AssetKey, AssetRecordsFilter, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.storage.dagster_run import RunRecord
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from ecommerce_assets.failure_classes import Verdict, classify
from ecommerce_assets.run_health import DEAD_RUN_TAG

HEALS_TAG = "ecom/heals"  # the first failed run of the day's lineage
ATTEMPT_TAG = "ecom/heal_attempt"
SINCE_TAG = "ecom/heal_since"  # when that first run failed (epoch seconds)
GAVE_UP_TAG = "ecom/heal_gave_up"
FIRST_DELAY = timedelta(minutes=2)
LONGEST_DELAY = timedelta(hours=1)

Action = Literal["rerun", "wait", "give_up"]


def delay(attempt: int, first: timedelta = FIRST_DELAY) -> timedelta:
    """The wait before re-run `attempt + 1`: 2, 4, 8, 16, 32 minutes (from `first`), then every hour."""
    return min(first * (2 ** attempt), LONGEST_DELAY)


def run_verdict(instance: DagsterInstance, record: RunRecord) -> Verdict:
    """Why the run failed: the first permanent cause among its failed steps, else their transient one; a dead
    run is transient; a run that failed outside its steps is judged by its own error."""
    run = record.dagster_run
    if run.tags.get(DEAD_RUN_TAG):
        return Verdict("transient", "the run's process died (killed, or its host was lost)", rerun=True)
    verdicts = []
    for entry in instance.get_records_for_run(run.run_id, of_type=DagsterEventType.STEP_FAILURE).records:
        event = entry.event_log_entry.dagster_event
        data = event.step_failure_data if event else None
        if data is not None and data.error is not None:
            verdicts.append(classify(data.error))
        else:
            verdicts.append(Verdict("permanent", entry.event_log_entry.message or "a step failed", rerun=False))
    if not verdicts:
        for entry in instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_FAILURE).records:
            event = entry.event_log_entry.dagster_event
            error = getattr(event.event_specific_data, "error", None) if event else None
            verdicts.append(classify(error) if error is not None else
                            Verdict("permanent", entry.event_log_entry.message or "the run failed", rerun=False))
    permanent = [v for v in verdicts if not (v.transient and v.rerun)]
    if permanent or not verdicts:
        return permanent[0] if permanent else Verdict("permanent", "the run failed", rerun=False)
    return verdicts[0]


@dataclass(frozen=True)
class Decision:
    action: Action
    run_id: str  # the failed run
    heals: str  # the first failed run of the lineage
    attempt: int  # re-runs made so far
    since: float
    verdict: Verdict
    partition: str | None
    partition_range: tuple[str, str] | None
    assets: list[AssetKey] = field(default_factory=list)  # what it did not materialize (and nobody since)

    def tags(self) -> dict[str, str]:
        tags = {HEALS_TAG: self.heals, ATTEMPT_TAG: str(self.attempt + 1), SINCE_TAG: f"{self.since:.0f}"}
        if self.partition_range:
            tags.update({ASSET_PARTITION_RANGE_START_TAG: self.partition_range[0],
                         ASSET_PARTITION_RANGE_END_TAG: self.partition_range[1]})
        return tags

    def where(self) -> str:
        if self.partition:
            return f"partition {self.partition}"
        if self.partition_range:
            return f"partitions {self.partition_range[0]}..{self.partition_range[1]}"
        return "its assets"


def _missing(instance: DagsterInstance, record: RunRecord, partitions: list[str] | None) -> list[AssetKey]:
    """Assets the run planned and did not materialize, less those materialized for its partition since."""
    run_id = record.dagster_run.run_id
    planned = {e.event_log_entry.dagster_event.asset_key
               for e in instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED).records
               if e.event_log_entry.dagster_event and e.event_log_entry.dagster_event.asset_key}
    done = {e.event_log_entry.dagster_event.asset_key
            for e in instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
            if e.event_log_entry.dagster_event and e.event_log_entry.dagster_event.asset_key}
    ended = record.end_time or record.update_timestamp.timestamp()
    missing = []
    for key in sorted(planned - done, key=lambda k: k.to_user_string()):
        since = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=partitions), limit=1).records
        if not since or since[0].timestamp < ended:
            missing.append(key)
    return missing


def _lineage(instance: DagsterInstance, heals: str) -> list[RunRecord]:
    records = list(instance.get_run_records(filters=RunsFilter(tags={HEALS_TAG: heals})))
    first = instance.get_run_record_by_id(heals)
    return sorted([*records, *([first] if first else [])], key=lambda r: r.create_timestamp)


def decisions(instance: DagsterInstance, now: datetime, window: timedelta,
              first_delay: timedelta = FIRST_DELAY) -> list[Decision]:
    """What to do about each day whose latest run failed on a transient cause within the window (plus the
    longest delay, so a lineage is followed to its end)."""
    found: list[Decision] = []
    seen: set[str] = set()
    failed = instance.get_run_records(filters=RunsFilter(statuses=[DagsterRunStatus.FAILURE],
                                                         updated_after=now - window - LONGEST_DELAY))
    for record in failed:
        run = record.dagster_run
        heals = run.tags.get(HEALS_TAG, run.run_id)
        if heals in seen or run.tags.get(GAVE_UP_TAG):
            continue
        seen.add(heals)
        lineage = _lineage(instance, heals)
        latest = lineage[-1]
        if latest.dagster_run.status != DagsterRunStatus.FAILURE or latest.dagster_run.tags.get(GAVE_UP_TAG):
            continue  # healed, in flight, or given up already
        verdict = run_verdict(instance, latest)
        if not (verdict.transient and verdict.rerun):
            continue  # the failure sensor alerted at once
        tags = latest.dagster_run.tags
        partition = tags.get(PARTITION_NAME_TAG)
        span = ((tags[ASSET_PARTITION_RANGE_START_TAG], tags[ASSET_PARTITION_RANGE_END_TAG])
                if ASSET_PARTITION_RANGE_START_TAG in tags and ASSET_PARTITION_RANGE_END_TAG in tags else None)
        assets = _missing(instance, latest, [partition] if partition else None)
        if not assets:
            continue  # nothing left to heal: another run materialized it since
        attempt = int(tags.get(ATTEMPT_TAG, "0"))
        since = float(tags.get(SINCE_TAG) or lineage[0].end_time or lineage[0].create_timestamp.timestamp())
        ended = latest.end_time or latest.update_timestamp.timestamp()
        if now.timestamp() - since > window.total_seconds():
            action: Action = "give_up"
        elif now.timestamp() - ended < delay(attempt, first_delay).total_seconds():
            action = "wait"
        else:
            action = "rerun"
        found.append(Decision(action, latest.dagster_run.run_id, heals, attempt, since, verdict, partition, span,
                              assets))
    return found

