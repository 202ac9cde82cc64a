"""The Airflow adapter: a real Airflow (its own virtual environment) runs `airflow dags test` against a real
dagster-webserver and daemon serving this code location with real PostgreSQL, S3 and catalog server.

The three scenarios against a running Dagster share one stack and one Airflow database (one test, a subtest
each): each works on a day of its own, counts runs and materializations of that day only, and sets the sensors
it needs — through the webserver's GraphQL, as a person does in the UI. Their Airflow commands (`db migrate`,
then each `dags test`) run in one Airflow process, through Airflow's own CLI parser and command functions, one
after the other: the same code as `airflow <command>` without starting Airflow (~10 CPU-seconds) for each.
scripts/airflow.sh, the real command line, is run by test_readme_commands."""

import json
import os
import select
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml
from dagster import DagsterEventType, DagsterInstance, RunsFilter

from ecommerce_assets.lake import LakeResource
from ecommerce_assets_tests.support.dagster_processes import (
    STACK_TEST,
    DagsterStack,
    dagster_stack,
    materializations,
    sensor_has_ticked,
    wait_for,
)
from ecommerce_assets_tests.support.helpers import REPO_ROOT, expected_mart, expected_ods, fetch_all, query
from ecommerce_catalog_server import CatalogServer, Fault, FaultPlan, GeneratedCatalog

DAGS = REPO_ROOT / "airflow" / "dags"
TODAY = datetime.now(UTC).date()


def airflow_bin() -> Path:
    path = Path(os.environ.get("ECOM_AIRFLOW_BIN") or REPO_ROOT / ".venv-airflow" / "bin" / "airflow")
    assert path.exists(), f"{path} is missing: ./scripts/test.sh installs Airflow into .venv-airflow"
    return path


def airflow_env(home: Path, dagster_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DAGSTER_", "ECOM_"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    })
    if dagster_url:
        env["AIRFLOW_CONN_DAGSTER_DEFAULT"] = f"{dagster_url}?location=ecommerce_assets"
    return env


# Reads one command per line on stdin ([argv, output file]), runs it as `airflow <argv>` does (the CLI's parser
# and the command's function), its stdout and stderr — Airflow's and the tasks' logs — into the output file, and
# answers "@@exit <code>" on its own stdout (a SystemExit's message is printed as the interpreter would).
DRIVER = """
import json, os, sys, traceback
from airflow.cli import cli_parser
parser = cli_parser.get_parser()
for line in sys.stdin:
    argv, path = json.loads(line)
    sys.stdout.flush(); sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1); os.dup2(out, 2); os.close(out)
    code = 0
    try:
        args = parser.parse_args(argv)
        args.func(args)
    except SystemExit as stop:
        if isinstance(stop.code, int):
            code = stop.code
        elif stop.code is not None:
            print(stop.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush(); sys.stderr.flush()
        os.dup2(saved[0], 1); os.dup2(saved[1], 2); os.close(saved[0]); os.close(saved[1])
    sys.stdout.write("@@exit %d\\n" % code)
    sys.stdout.flush()
"""


class Airflow:
    """One Airflow process running commands in turn (DRIVER), each answered as a finished process."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.folder = folder
        self.log = folder / "driver.log"
        with self.log.open("w") as errors:
            # unbuffered: select() then sees every answer, none left waiting in a reader's buffer
            self.process = subprocess.Popen([str(airflow_bin().parent / "python"), "-c", DRIVER], env=env,
                                            cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=errors, bufsize=0)
        self.count = 0

    def __call__(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.count += 1
        output = self.folder / f"{self.count:02d}-{'-'.join(args[:2])}.log"
        self.process.stdin.write(json.dumps([list(args), str(output)]).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = self.process.stdout.readline().decode() if ready else ""
            if line.startswith("@@exit "):
                return subprocess.CompletedProcess(["airflow", *args], int(line.split()[1]), output.read_text(), "")
            if not line:  # no answer in time, or the driver's stdout closed (it exited)
                raise AssertionError(f"airflow {' '.join(args)}: no answer (exit {self.process.poll()}); driver log:\n"
                                     f"{self.log.read_text()[-3000:]}\noutput:\n"
                                     f"{output.read_text()[-3000:] if output.exists() else ''}")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


FOLLOWING = ("ecommerce_automation_sensor", "product_changes_gap_sensor")  # what builds layers after raw


@pytest.fixture
def stack(tmp_path: Path, pg_dsn: str, lake: LakeResource) -> Iterator[tuple[DagsterStack, CatalogServer]]:
    with CatalogServer(GeneratedCatalog(size=150, seed=5, awkward=True)) as server, \
            dagster_stack(tmp_path, pg_dsn, lake, server.url, webserver=True) as dagster:
        wait_for(lambda: all(sensor_has_ticked(dagster.instance, s) for s in FOLLOWING), 240,
                 "the first ticks of the automation and gap sensors", dagster.log)
        yield dagster, server


@pytest.fixture
def airflow(tmp_path: Path, stack: tuple[DagsterStack, CatalogServer]) -> Iterator[Airflow]:
    """Airflow with a migrated database of its own and a connection to the stack's webserver."""
    home = tmp_path / "airflow_home"
    home.mkdir()
    session = Airflow(airflow_env(home, stack[0].webserver_url), home)
    try:
        migrated = session("db", "migrate")
        assert migrated.returncode == 0, migrated.stdout[-3000:]
        yield session
    finally:
        session.close()


def set_sensors(dagster: DagsterStack, names: tuple[str, ...], running: bool) -> None:
    """Start or stop sensors as the UI does: the webserver's GraphQL mutations (an answer that is not the
    sensor's new state fails, naming what the server said)."""
    url = f"{dagster.webserver_url}/graphql"

    def ask(document: str, **variables: object) -> dict[str, object]:
        answer = requests.post(url, json={"query": document, "variables": variables}, timeout=60)
        answer.raise_for_status()
        body = answer.json()
        assert "errors" not in body, body
        return dict(body["data"])

    for name in names:
        selector = {"repositoryLocationName": "ecommerce_assets", "repositoryName": "__repository__",
                    "sensorName": name}
        if running:
            done = ask("mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename } }", s=selector)
            assert done["startSensor"] == {"__typename": "Sensor"}, done
        else:
            found = ask("query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { __typename "
                        "... on Sensor { sensorState { id } } } }", s=selector)["sensorOrError"]
            state_id = found["sensorState"]["id"]  # type: ignore[index]
            done = ask("mutation($id: String) { stopSensor(id: $id) { __typename } }", id=state_id)
            assert done["stopSensor"] == {"__typename": "StopSensorMutationResult"}, done


def materializing_runs(instance: DagsterInstance, asset: str, partition: str) -> list[str]:
    return [r.run_id for r in materializations(instance, asset, partition)]


def materialized_by_run(instance: DagsterInstance, run_id: str) -> set[str]:
    records = instance.get_records_for_run(run_id=run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    return {r.event_log_entry.dagster_event.asset_key.to_user_string() for r in records  # type: ignore[union-attr]
            if r.event_log_entry.dagster_event is not None}


def dags_test(airflow: Airflow, dag_id: str, partition: str, conf: dict[str, object] | None = None
              ) -> subprocess.CompletedProcess[str]:
    args = ["dags", "test", dag_id, partition]
    if conf:
        args += ["--conf", json.dumps(conf)]
    return airflow(*args)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def test_dag_files_parse_offline_with_nothing_configured(tmp_path: Path) -> None:
    """Only constants at parse time: no connection, no network, no Dagster and no Airflow database (an empty
    AIRFLOW_HOME, never migrated) needed to import the DAGs."""
    airflow_home = tmp_path / "airflow_home"
    airflow_home.mkdir()
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise RuntimeError('network at parse time')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag({str(DAGS)!r})\n"
        "print(repr(sorted(bag.import_errors)), sorted(bag.dag_ids))\n"
        "for d in bag.dags.values(): print(d.dag_id, sorted(t.task_id for t in d.tasks))\n"
    )
    env = airflow_env(airflow_home, None)
    env["PYTHONPATH"] = str(DAGS)  # Airflow puts the DAGs folder on sys.path
    result = subprocess.run([str(airflow_bin().parent / "python"), "-c", code], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, output(result)
    lines = [line for line in result.stdout.splitlines() if not line.startswith("20")]
    assert "[] ['dm_ecommerce_analytics', 'ecommerce_ods_pg', 'raw_s3_api']" in lines
    assert "raw_s3_api ['materialize_raw_products_parquet']" in lines
    assert "ecommerce_ods_pg ['materialize_ods_fct_products', 'wait_for_raw_s3_api']" in lines
    assert "dm_ecommerce_analytics ['materialize_dm_fct_ecommerce', 'wait_for_ecommerce_ods_pg']" in lines


@STACK_TEST  # three scenarios, each a few minutes on a busy 2-core machine
def test_airflow_against_a_dagster_deployment(stack: tuple[DagsterStack, CatalogServer], airflow: Airflow,
                                              pg_dsn: str, subtests: pytest.Subtests) -> None:
    """Three ways Airflow meets one Dagster deployment, in turn on one daemon, webserver and Airflow database
    (each costs a minute of CPU to set up), each on a day of its own and counting that day's runs only."""
    with subtests.test("Airflow-driven: each DAG materializes exactly its asset"):
        # Dagster's automation (and the gap sensor, which derives a first day's changes) switched off, so each
        # DAG must do its own layer; on again afterwards
        set_sensors(stack[0], FOLLOWING, running=False)
        try:
            each_dag_materializes_exactly_its_asset(stack, airflow, pg_dsn)
        finally:
            set_sensors(stack[0], FOLLOWING, running=True)
    with subtests.test("with Dagster's automation: nothing runs twice"):
        with_dagster_automation_nothing_runs_twice(stack, airflow, pg_dsn)
    with subtests.test("a failing Dagster run fails the task with its error"):
        failing_dagster_run_fails_the_task_with_its_error(stack, airflow)


def each_dag_materializes_exactly_its_asset(stack: tuple[DagsterStack, CatalogServer], airflow: Airflow,
                                            pg_dsn: str) -> None:
    dagster, server = stack
    partition = (TODAY - timedelta(days=1)).isoformat()

    layers = (("raw_s3_api", "raw_products_parquet", "raw_products_job", {"raw_products_parquet"}),
              # the ODS layer: one run of the rules writes the accepted rows and the rejected records
              ("ecommerce_ods_pg", "ods_fct_products", "ods_products_job", {"ods_fct_products", "ods_rejected_products"}),
              # the dm layer: the day's changes, then the mart that counts them
              ("dm_ecommerce_analytics", "dm_fct_ecommerce", "dm_ecommerce_job",
               {"dm_fct_product_changes", "dm_fct_ecommerce"}))
    for dag_id, asset, job, layer in layers:
        result = dags_test(airflow, dag_id, partition)
        assert result.returncode == 0, output(result)[-5000:]
        (run_id,) = materializing_runs(dagster.instance, asset, partition)
        run = dagster.instance.get_run_by_id(run_id)
        assert run is not None
        assert run.tags["dagster/partition"] == partition
        assert run.tags["airflow/dag_id"] == dag_id
        assert run.job_name == job
        assert materialized_by_run(dagster.instance, run_id) == layer  # exactly its layer
        assert f"Dagster run {run_id}: {dagster.webserver_url}/runs/{run_id}" in output(result)

    accepted, _ = expected_ods(fetch_all(server.url))
    assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s", (partition,)) == [(len(accepted),)]
    assert sorted(query(pg_dsn, "SELECT category, product_count, total_stock, avg_price, avg_rating "
                                "FROM dm.fct_ecommerce WHERE report_date = %s", (partition,))) == expected_mart(accepted)
    assert len(dagster.instance.get_runs(RunsFilter(tags={"dagster/partition": partition}))) == 3


def with_dagster_automation_nothing_runs_twice(stack: tuple[DagsterStack, CatalogServer], airflow: Airflow,
                                               pg_dsn: str) -> None:
    dagster, server = stack
    partition = (TODAY - timedelta(days=2)).isoformat()
    for dag_id in ("raw_s3_api", "ecommerce_ods_pg", "dm_ecommerce_analytics"):
        result = dags_test(airflow, dag_id, partition)
        assert result.returncode == 0, output(result)[-5000:]
    # Each asset partition materialized exactly once; ODS and mart by one run (Airflow's or the automation's).
    for asset in ("raw_products_parquet", "ods_fct_products"):
        assert len(materializing_runs(dagster.instance, asset, partition)) == 1, asset
    # The mart: once by one of them. Dagster's own sensors can, once in a while, build it a second time: the
    # automation's condition latched the ODS update while the day's changes were missing (the first day's
    # changes come from the gap sensor or from Airflow's dm run), and a tick that reads the event log while that
    # run ends can see the changes stored, the run over and the mart not yet — a redundant rebuild of the same
    # rows (Dagster's race, not the adapter's). Airflow never submits a second run, nor Dagster's sensors more
    # than one.
    runs = [dagster.instance.get_run_by_id(r) for r in materializing_runs(dagster.instance, "dm_fct_ecommerce", partition)]
    tags = [r.tags if r is not None else {} for r in runs]
    by_airflow = [t for t in tags if "airflow/dag_id" in t]
    by_sensors = [t for t in tags if "dagster/sensor_name" in t and "airflow/dag_id" not in t]
    assert runs and len(runs) == len(by_airflow) + len(by_sensors), tags
    assert len(by_airflow) <= 1 and len(by_sensors) <= 1, tags
    accepted, _ = expected_ods(fetch_all(server.url))
    assert sorted(query(pg_dsn, "SELECT category, product_count, total_stock, avg_price, avg_rating "
                                "FROM dm.fct_ecommerce WHERE report_date = %s", (partition,))) == expected_mart(accepted)


def failing_dagster_run_fails_the_task_with_its_error(stack: tuple[DagsterStack, CatalogServer],
                                                     airflow: Airflow) -> None:
    dagster, server = stack
    server.state.faults = FaultPlan(every={1: Fault("status", status=400)})
    partition = (TODAY - timedelta(days=3)).isoformat()
    try:
        result = dags_test(airflow, "raw_s3_api", partition)
    finally:
        server.state.faults = FaultPlan()
    text = output(result)
    runs = dagster.instance.get_runs(RunsFilter(tags={"dagster/partition": partition}))
    assert runs and all(r.status.value == "FAILURE" for r in runs)
    assert f"Dagster run {runs[-1].run_id} of raw_products_job for partition {partition} ended FAILURE" in text
    assert "CatalogFetchError" in text and "HTTP 400" in text  # Dagster's error, in the Airflow task log
    assert len(runs) == 1  # a failed Dagster run is not re-submitted by Airflow retries
    assert materializing_runs(dagster.instance, "raw_products_parquet", partition) == []
    assert result.returncode != 0


def test_airflow_connection_from_compose_points_at_the_webserver() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    uri = compose["services"]["airflow"]["environment"]["AIRFLOW_CONN_DAGSTER_DEFAULT"]
    code = (
        "import sys; sys.path.insert(0, {!r})\n"
        "from airflow.models.connection import Connection\n"
        "from dagster_adapter.client import endpoint_from_connection\n"
        "e = endpoint_from_connection(Connection(conn_id='dagster_default', uri={!r}))\n"
        "print(e.graphql_url, e.location, e.run_url('r1'))\n"
    ).format(str(REPO_ROOT / "airflow/dags"), uri)
    done = subprocess.run([str(airflow_bin().parent / "python"), "-c", code], capture_output=True, text=True,
                          timeout=300, env={"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": "/tmp/airflow-conn-check"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[-2] == "http://dagster-webserver:3000/graphql ecommerce_assets http://localhost:3000/runs/r1"
