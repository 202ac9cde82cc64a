"""The heal and alert sensors on a real instance, evaluated as the daemon evaluates them: a day failed on a
transient cause is run again after its delay (what it did not materialize, same partition, tagged with the run
it heals), is given up and alerted once when the window is spent, and sends no alert meanwhile; a permanent
failure is alerted at once and never run again; a dead run is found, failed and its slots freed."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    SensorResult,
    SkipReason,
    build_sensor_context,
)
from dagster._core.events import EngineEventData

from ecommerce_assets.defs.products.keys import RAW
from ecommerce_assets.healing import ATTEMPT_TAG, GAVE_UP_TAG, HEALS_TAG
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.run_health import DEAD_RUN_TAG, HOST_TAG, PID_TAG
from ecommerce_assets.sensors import dead_run_sensor
from ecommerce_assets_tests.support import sensor_calls
from ecommerce_assets_tests.support.helpers import make_resources, run_partition
from ecommerce_assets_tests.support.http_servers import Receiver, receiving
from ecommerce_catalog_server import CatalogServer, Fault, FaultPlan

DAY = "2025-04-05"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(200) as receiver:
        yield receiver


def failed_raw_run(instance: DagsterInstance, lake: LakeResource, pg_dsn: str, server: CatalogServer,
                   **config: Any) -> str:
    result = run_partition(make_resources(lake, pg_dsn, server.url, max_retries=1), DAY, assets=[RAW],
                           instance=instance, raise_on_error=False, **config)
    assert not result.success
    return result.run_id


def heal(instance: DagsterInstance, receiver: Receiver, **healing: Any) -> SensorResult | SkipReason:
    return sensor_calls.heal(instance, receiver.url, **healing)


def alert(instance: DagsterInstance, run_id: str, receiver: Receiver, **healing: Any) -> None:
    sensor_calls.alert(instance, run_id, receiver.url, **healing)


def test_a_transient_failure_is_run_again_after_its_delay_and_alerted_only_when_the_window_is_spent(
        dagster_instance: DagsterInstance, lake: LakeResource, pg_dsn: str, catalog_server: CatalogServer,
        receiver: Receiver) -> None:
    catalog_server.state.faults = FaultPlan(every={1: Fault("status", status=503)})
    run_id = failed_raw_run(dagster_instance, lake, pg_dsn, catalog_server)

    alert(dagster_instance, run_id, receiver)
    assert receiver.received == []  # transient: no alert, heal_sensor takes it

    waiting = heal(dagster_instance, receiver)  # the first re-run waits 2 minutes
    assert isinstance(waiting, SkipReason) and "1 failed runs wait" in str(waiting.skip_message)

    due = heal(dagster_instance, receiver, first_delay_minutes=0)
    assert isinstance(due, SensorResult) and len(due.run_requests or []) == 1
    request = (due.run_requests or [])[0]
    assert request.partition_key == DAY and list(request.asset_selection or []) == [RAW]
    assert request.tags[HEALS_TAG] == run_id and request.tags[ATTEMPT_TAG] == "1"
    assert request.run_key == f"heal:{run_id}:1"
    assert receiver.received == []

    spent = heal(dagster_instance, receiver, window_hours=1e-9)  # the window is spent: given up, alerted once
    assert isinstance(spent, SkipReason)
    assert len(receiver.received) == 1
    message = receiver.received[0]
    assert message["partition"] == DAY and message["failure_class"] == "transient"
    assert message["cause"] == "the API answered HTTP 503"
    assert message["text"].startswith(f"Dagster run {run_id} for partition {DAY} could not heal in ")
    assert "→ bring the service back" in message["text"]
    assert dagster_instance.get_run_by_id(run_id).tags[GAVE_UP_TAG] == "true"  # type: ignore[union-attr]
    heal(dagster_instance, receiver, window_hours=1e-9, first_delay_minutes=0)
    assert len(receiver.received) == 1  # once


def test_a_day_materialized_since_by_another_run_is_not_run_again(
        dagster_instance: DagsterInstance, lake: LakeResource, pg_dsn: str, catalog_server: CatalogServer,
        receiver: Receiver) -> None:
    catalog_server.state.faults = FaultPlan(every={1: Fault("status", status=503)})
    failed_raw_run(dagster_instance, lake, pg_dsn, catalog_server)
    catalog_server.state.faults = FaultPlan()
    assert run_partition(make_resources(lake, pg_dsn, catalog_server.url), DAY, assets=[RAW],
                         instance=dagster_instance).success  # a person re-ran it
    assert str(heal(dagster_instance, receiver, first_delay_minutes=0).skip_message) == "nothing to heal"  # type: ignore[union-attr]


def test_a_permanent_failure_is_alerted_at_once_and_never_run_again(
        dagster_instance: DagsterInstance, lake: LakeResource, pg_dsn: str, catalog_server: CatalogServer,
        receiver: Receiver) -> None:
    late = {"ops": {"raw_products_parquet": {"config": {"allow_late_fetch": False}}}}  # a refusal on purpose
    run_id = failed_raw_run(dagster_instance, lake, pg_dsn, catalog_server, run_config=late)
    alert(dagster_instance, run_id, receiver)
    assert len(receiver.received) == 1
    message = receiver.received[0]
    assert message["failure_class"] == "permanent" and message["partition"] == DAY
    assert "and the catalog API has no history" in message["cause"]
    assert "→ fix the cause above" in message["text"]
    assert str(heal(dagster_instance, receiver, first_delay_minutes=0).skip_message) == "nothing to heal"  # type: ignore[union-attr]


def test_a_sensors_run_failing_again_on_the_same_permanent_cause_is_not_alerted_twice(
        dagster_instance: DagsterInstance, lake: LakeResource, pg_dsn: str, catalog_server: CatalogServer,
        receiver: Receiver) -> None:
    """The automation can take a failed day on again (a redundant request, Dagster's race): the same refusal
    again says nothing new. A run a person starts alerts again."""
    late = {"ops": {"raw_products_parquet": {"config": {"allow_late_fetch": False}}}}
    first = failed_raw_run(dagster_instance, lake, pg_dsn, catalog_server, run_config=late)
    by_sensor = failed_raw_run(dagster_instance, lake, pg_dsn, catalog_server, run_config=late,
                               tags={"dagster/sensor_name": "ecommerce_automation_sensor"})
    by_person = failed_raw_run(dagster_instance, lake, pg_dsn, catalog_server, run_config=late)
    for run_id in (first, by_sensor, by_person):
        alert(dagster_instance, run_id, receiver)
    assert [m["run_id"] for m in receiver.received] == [first, by_person]


def test_a_dead_run_is_failed_its_slots_freed_and_then_healed(
        dagster_instance: DagsterInstance, lake: LakeResource, pg_dsn: str, catalog_server: CatalogServer,
        receiver: Receiver) -> None:
    # a run whose process is gone: started by a process that has exited since, holding a warehouse slot
    result = run_partition(make_resources(lake, pg_dsn, catalog_server.url), DAY, assets=[RAW],
                           instance=dagster_instance)
    gone = os.fork()
    if gone == 0:
        os._exit(0)
    os.waitpid(gone, 0)
    run = dagster_instance.create_run_for_job(
        job_def=result.job_def, run_config={}, tags={PID_TAG: str(gone), HOST_TAG: os.uname().nodename,
                                                     "dagster/partition": DAY},
        status=DagsterRunStatus.STARTED)
    dagster_instance.event_log_storage.set_concurrency_slots("warehouse", 2)
    dagster_instance.event_log_storage.claim_concurrency_slot("warehouse", run.run_id, "ods_products")
    started = time.monotonic()
    with build_sensor_context(instance=dagster_instance) as context:
        outcome = dead_run_sensor()(context)
    assert time.monotonic() - started < 10
    assert str(outcome.skip_message) == "freed 1 dead runs"
    dead = dagster_instance.get_run_by_id(run.run_id)
    assert dead is not None and dead.status == DagsterRunStatus.FAILURE and dead.tags[DEAD_RUN_TAG] == "true"
    assert dagster_instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots == []
    # a live run (this process) is left alone
    alive = dagster_instance.create_run_for_job(
        job_def=result.job_def, run_config={}, tags={PID_TAG: str(os.getpid()), HOST_TAG: os.uname().nodename},
        status=DagsterRunStatus.STARTED)
    with build_sensor_context(instance=dagster_instance) as context:
        assert str(dead_run_sensor()(context).skip_message) == "no dead run"
    assert dagster_instance.get_run_by_id(alive.run_id).status == DagsterRunStatus.STARTED  # type: ignore[union-attr]


def test_a_run_launched_long_after_it_was_queued_is_alive(dagster_instance: DagsterInstance, lake: LakeResource,
                                                          pg_dsn: str, catalog_server: CatalogServer) -> None:
    """The daemon's launcher starts a queued run's process seconds or hours after the run was created: that
    process is younger than the run, and alive (a regression: such runs were marked dead as they started)."""
    result = run_partition(make_resources(lake, pg_dsn, catalog_server.url), DAY, assets=[RAW],
                           instance=dagster_instance)
    queued = dagster_instance.create_run_for_job(job_def=result.job_def, run_config={},
                                                 status=DagsterRunStatus.STARTING)
    time.sleep(1.5)  # the time the run waits in the queue (a process created later than the run + 1 s)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as worker:
        try:
            # what the launched process reports about itself, as dagster's run worker does
            dagster_instance.report_engine_event(f"Started process for run (pid: {worker.pid}).", queued,
                                                 EngineEventData.in_process(worker.pid))
            with build_sensor_context(instance=dagster_instance) as context:
                assert str(dead_run_sensor()(context).skip_message) == "no dead run"
            assert dagster_instance.get_run_by_id(queued.run_id).status == DagsterRunStatus.STARTING  # type: ignore[union-attr]
            worker.kill()
            worker.wait()
            with build_sensor_context(instance=dagster_instance) as context:
                assert str(dead_run_sensor()(context).skip_message) == "freed 1 dead runs"  # and once gone, dead
        finally:
            worker.kill()
