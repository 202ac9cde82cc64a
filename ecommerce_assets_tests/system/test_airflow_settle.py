"""Two submitters of one asset partition — Airflow's operator and Dagster's automation, a backfill, another
Airflow run of the same day — that looked at the same moment, saw no run, and both submitted: the adapter's
`DagsterEndpoint.settle` keeps one. Against a real dagster-webserver over this code location with no daemon,
so every run stays queued where the test put it: the interleaving a busy machine produces once in a while
(the Airflow test's "nothing runs twice" failed on it, 2026-12-07) is forced here, every time."""

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import pytest
from dagster import DagsterEvent, DagsterEventType, DagsterInstance

from ecommerce_assets.lake import LakeResource
from ecommerce_assets_tests.support.dagster_processes import LOCATION, STACK_TEST, dagster_stack
from ecommerce_assets_tests.support.helpers import REPO_ROOT

DAGS = REPO_ROOT / "airflow" / "dags"
ODS, ODS_JOB = "ods_fct_products", "ods_products_job"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The adapter's client module, imported as Airflow's DAG processor does: with the DAGs folder on sys.path."""
    monkeypatch.syspath_prepend(str(DAGS))
    return importlib.import_module("dagster_adapter.client")


@pytest.fixture
def dagster(tmp_path: Path, pg_dsn: str, lake: LakeResource, client: ModuleType) -> Iterator[tuple[Any, DagsterInstance]]:
    with dagster_stack(tmp_path, pg_dsn, lake, "http://127.0.0.1:9", webserver=True, daemon=False) as stack:
        assert stack.webserver_url is not None
        url = urlparse(stack.webserver_url)
        yield client.DagsterEndpoint(host=url.hostname, port=url.port, use_https=False, location=LOCATION,
                                     ui_url=stack.webserver_url), stack.instance


def status(instance: DagsterInstance, run_id: str) -> str:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status.value


@STACK_TEST
def test_two_submitters_of_one_asset_partition_are_settled_to_one_run(
        dagster: tuple[Any, DagsterInstance], client: ModuleType, subtests: pytest.Subtests) -> None:
    endpoint, instance = dagster
    automation = {"dagster/sensor_name": "ecommerce_automation_sensor"}

    with subtests.test("the automation submitted first: ours is cancelled and theirs awaited"):
        theirs = endpoint.submit(ODS_JOB, "2025-03-01", None, automation)
        ours = endpoint.submit(ODS_JOB, "2025-03-01", None, {"airflow/dag_id": "ecommerce_ods_pg"})
        settled = endpoint.settle(ODS, "2025-03-01", ours)
        assert (settled.run_id, settled.cancelled) == (theirs, (ours,))
        assert (status(instance, ours), status(instance, theirs)) == ("CANCELED", "QUEUED")
        (note,) = settled.notes
        assert note.startswith(f"run {theirs} (Dagster sensor ecommerce_automation_sensor) builds ods_fct_products "
                               "2025-03-01 too, submitted ")
        assert note.endswith(f" s earlier: cancelled ours ({ours}) before it started, waiting for {theirs}")
        # the automation's side sees one run, its own, and nothing to cancel
        assert endpoint.settle(ODS, "2025-03-01", theirs) == client.Settlement(theirs)
        assert status(instance, theirs) == "QUEUED"

    with subtests.test("ours first: the later duplicate is cancelled"):
        ours = endpoint.submit(ODS_JOB, "2025-03-02", None, {"airflow/dag_id": "ecommerce_ods_pg"})
        theirs = endpoint.submit(ODS_JOB, "2025-03-02", None, automation)
        settled = endpoint.settle(ODS, "2025-03-02", ours)
        assert (settled.run_id, settled.cancelled) == (ours, (theirs,))
        assert (status(instance, ours), status(instance, theirs)) == ("QUEUED", "CANCELED")
        (note,) = settled.notes
        assert note.startswith(f"cancelled run {theirs} (Dagster sensor ecommerce_automation_sensor) before it "
                               "started: ours builds ods_fct_products 2025-03-02 too, submitted ")
        # the cancelled side, settling next, is told why and waits for the first run
        again = endpoint.settle(ODS, "2025-03-02", theirs)
        assert (again.run_id, again.cancelled) == (ours, ())
        assert again.notes[0].startswith(f"run {theirs} was cancelled; run {ours} (Airflow DAG ecommerce_ods_pg), "
                                         "which builds ods_fct_products 2025-03-02, submitted ")

    with subtests.test("a later run that builds more than ours is kept instead of ours"):
        ours = endpoint.submit(ODS_JOB, "2025-03-03", None, {"airflow/dag_id": "ecommerce_ods_pg"})
        wider = endpoint.submit("ecommerce_daily_job", "2025-03-03", None, {"dagster/backfill": "abcdefgh"})
        settled = endpoint.settle(ODS, "2025-03-03", ours)
        assert (settled.run_id, settled.cancelled) == (wider, (ours,))
        assert (status(instance, ours), status(instance, wider)) == ("CANCELED", "QUEUED")
        assert settled.notes == (f"run {wider} (Dagster backfill abcdefgh) builds ods_fct_products 2025-03-03 too "
                                 "and more (dm_fct_ecommerce, dm_fct_product_changes, raw_products_parquet): "
                                 f"cancelled ours ({ours}) before it started, waiting for {wider}",)
        # the wider run's submitter, settling on an asset ours builds, cancels nothing more
        assert endpoint.settle(ODS, "2025-03-03", wider) == client.Settlement(wider)

    with subtests.test("runs of the day that do not build the asset, and other days' runs, are no rivals"):
        ours = endpoint.submit(ODS_JOB, "2025-03-04", None, {"airflow/dag_id": "ecommerce_ods_pg"})
        raw = endpoint.submit("raw_products_job", "2025-03-04", None, automation)
        other_day = endpoint.submit(ODS_JOB, "2025-03-05", None, automation)
        assert endpoint.settle(ODS, "2025-03-04", ours) == client.Settlement(ours)
        assert [status(instance, r) for r in (ours, raw, other_day)] == ["QUEUED", "QUEUED", "QUEUED"]

    with subtests.test("a run that has left the queue is not cancelled: both run, and the log says so"):
        ours = endpoint.submit(ODS_JOB, "2025-03-06", None, {"airflow/dag_id": "ecommerce_ods_pg"})
        theirs = endpoint.submit(ODS_JOB, "2025-03-06", None, automation)
        # the daemon's run queue takes it: the event its dequeue reports before handing the run to the launcher
        run = instance.get_run_by_id(theirs)
        assert run is not None
        instance.report_dagster_event(DagsterEvent(event_type_value=DagsterEventType.PIPELINE_STARTING.value,
                                                   job_name=run.job_name), run_id=theirs)
        assert status(instance, theirs) == "STARTING"
        settled = endpoint.settle(ODS, "2025-03-06", ours)
        assert (settled.run_id, settled.cancelled) == (ours, ())
        assert settled.notes == (f"ours and run {theirs} (Dagster sensor ecommerce_automation_sensor) both build "
                                 "ods_fct_products 2025-03-06; it had left the queue before it could be cancelled, "
                                 "so both run",)
