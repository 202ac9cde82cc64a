"""Runs whose process is gone, found and freed: a run killed (SIGKILL, a closed terminal, a lost host) stays
STARTED in Dagster's storage and keeps its concurrency-pool slots, so every later run waits for ever. Dagster's
run monitoring cannot see it under the default run launcher (no worker health check); this module can, for
runs on this host: the run's process is named by the `ecom/pid` + `ecom/host` tags the local runner sets, or
by the run launcher's "Started process for run (pid: …)" event. Such a run is marked failed (tagged
`ecom/dead_run`, a transient cause: `heal_sensor` runs it again) and its slots are freed. Used by
`dead_run_sensor` in the code location and by the local runner before it starts."""

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import psutil
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunRecord, RunsFilter

PID_TAG = "ecom/pid"
HOST_TAG = "ecom/host"
DEAD_RUN_TAG = "ecom/dead_run"
LIVE = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
# queued or running: a run that is still to write what it was asked for
IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED]


def process_tags() -> dict[str, str]:
    """The tags that name this process as a run's worker (runs executed in this process)."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    job_name: str
    partition: str | None
    pid: int
    slots: list[str]  # the pool slots it held: "pool (step)"

    def line(self) -> str:
        held = f", freed its slots: {', '.join(self.slots)}" if self.slots else ""
        where = f" for {self.partition}" if self.partition else ""
        return f"run {self.run_id[:8]} of {self.job_name}{where}: its process {self.pid} is gone; marked failed{held}"


def _worker(instance: DagsterInstance, record: RunRecord) -> tuple[int, float] | None:
    """The pid of the run's worker on this host and a moment that process was alive (its own report of
    itself), or None when the worker is not known to be on this host."""
    run = record.dagster_run
    if PID_TAG in run.tags:  # set by the worker itself when it created the run
        if run.tags.get(HOST_TAG) != socket.gethostname():
            return None
        return int(run.tags[PID_TAG]), record.create_timestamp.timestamp()
    from dagster._core.launcher import DefaultRunLauncher

    if not isinstance(instance.run_launcher, DefaultRunLauncher):
        return None  # another launcher places runs elsewhere: its own monitoring applies
    records = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=50).records
    for event_record in records:
        entry = event_record.event_log_entry
        event = entry.dagster_event
        pid = event.engine_event_data.metadata.get("pid") if event and event.engine_event_data else None
        if pid is not None and "Started process for run" in (entry.message or ""):
            # reported by the process itself: it existed then (a run queued long before it was launched is
            # judged against the moment its process started, not the moment the run was created)
            return int(str(pid.value)), entry.timestamp
    return None


def _alive(pid: int, seen: float) -> bool:
    """Whether `pid` is a living process that existed at `seen` (not a later one given the same pid)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return process.create_time() <= seen + 1
    except psutil.NoSuchProcess:
        return False


def _held_slots(instance: DagsterInstance, run_id: str) -> list[str]:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    held: list[str] = []
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        held.extend(f"{pool} ({slot.step_key})" for slot in info.claimed_slots if slot.run_id == run_id)
    return held


def dead_runs(instance: DagsterInstance) -> list[tuple[DagsterRun, int]]:
    """Live-looking runs of this host whose worker process is gone, with the pid they had."""
    found = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=LIVE)):
        worker = _worker(instance, record)
        if worker is not None and not _alive(*worker):
            found.append((record.dagster_run, worker[0]))
    return found


def free_dead_runs(instance: DagsterInstance, who: str) -> list[DeadRun]:
    """Mark every dead run of this host failed and free its pool slots; `who` is named in the run's log."""
    freed = []
    for run, pid in dead_runs(instance):
        slots = _held_slots(instance, run.run_id)
        instance.add_run_tags(run.run_id, {DEAD_RUN_TAG: "true"})
        instance.report_run_failed(run, message=(
            f"the run's process {pid} is gone (killed, or its host was lost): marked failed by {who}"
            + (f"; pool slots freed: {', '.join(slots)}" if slots else "")))
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        freed.append(DeadRun(run.run_id, run.job_name, run.tags.get("dagster/partition"), pid, slots))
    return freed


def slot_holders(instance: DagsterInstance, pools: Iterable[str]) -> list[str]:
    """Who holds the slots of `pools` when all are taken: one line per full pool, naming the runs."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    lines = []
    for pool in pools:
        info = storage.get_concurrency_info(pool)
        if not info.slot_count or len(info.claimed_slots) < info.slot_count:
            continue
        holders = []
        for slot in info.claimed_slots:
            record = instance.get_run_record_by_id(slot.run_id)
            started = (datetime.fromtimestamp(record.start_time, UTC).strftime("%Y-%m-%d %H:%M UTC")
                       if record is not None and record.start_time else "?")
            job = record.dagster_run.job_name if record is not None else "?"
            holders.append(f"run {slot.run_id[:8]} ({slot.step_key}, {job}, since {started})")
        lines.append(f"pool {pool}: all {info.slot_count} slots held by {'; '.join(holders)}")
    return lines
