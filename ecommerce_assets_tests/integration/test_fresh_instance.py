"""A new Dagster instance and the runs that start on it at once: Dagster creates a concurrency pool's row when a
step first claims the pool, and two runs doing so together collide (the second insert waits for the first,
then fails on the unique key inside a transaction it cannot recover). The deployment's set-up step
(`ecommerce-deploy init-dagster`, `init_dagster`) creates every pool the definitions use before any run."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ecommerce_assets.definitions import defs
from ecommerce_assets_tests.support.helpers import REPO_ROOT, clean_env, write_instance_yaml
from ecommerce_deploy.init_dagster import init_dagster, pools_of

RUNS = """
import multiprocessing, os, sys, time
from dagster import DagsterInstance, asset, materialize

@asset(pool="warehouse")
def touches_the_warehouse() -> None:
    pass

def one_run(start: float) -> str:
    with DagsterInstance.get() as instance:
        while time.time() < start:  # every run starts its step at the same moment
            time.sleep(0.001)
        result = materialize([touches_the_warehouse], instance=instance, raise_on_error=False)
    errors = [str(e.event_specific_data.error) for e in result.all_events  # type: ignore[union-attr]
              if e.is_failure and getattr(e.event_specific_data, "error", None)]
    return "succeeded" if result.success else "failed: " + " | ".join(errors).replace("\\n", " ")

if __name__ == "__main__":
    start, count = float(sys.argv[1]), int(sys.argv[2])
    # each run a process of its own, as a deployment's runs are; forked once Dagster is imported, so the
    # import is paid once, not once per run
    pool = multiprocessing.get_context("fork").Pool(count)
    for line in pool.map(one_run, [start] * count):
        print(line, flush=True)
    # Every run has ended and said so. Leave without the pool's terminate: a forked worker that misses its
    # SIGTERM held one clean-clone run open past the test's 5 minutes; the workers end with the pipe to them.
    os._exit(0)
"""


@pytest.fixture
def home(tmp_path: Path, empty_database: str) -> Iterator[Path]:
    """A new instance: its storage an empty database, no pool created yet."""
    write_instance_yaml(tmp_path, empty_database)
    yield tmp_path


def runs(home: Path, count: int, start_in: float = 8.0) -> subprocess.Popen[str]:
    """`count` runs, each in a process of its own, starting together `start_in` seconds from now."""
    script = home / "runs.py"
    script.write_text(RUNS)
    return subprocess.Popen([sys.executable, str(script), str(time.time() + start_in), str(count)], cwd=REPO_ROOT,
                            text=True, env=clean_env(DAGSTER_HOME=str(home), PYTHONWARNINGS="ignore"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def outcomes(process: subprocess.Popen[str]) -> list[str]:
    out, err = process.communicate(timeout=300)
    return out.splitlines() if out.strip() and process.returncode == 0 else [out.strip() + err.strip()[-500:]]


def test_ten_runs_at_once_on_a_new_instance_after_the_set_up_step(home: Path, empty_database: str) -> None:
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        assert init_dagster(instance, pools_of(defs)) == ["warehouse"]
        assert init_dagster(instance, pools_of(defs)) == []  # idempotent: a second set-up creates nothing
    assert outcomes(runs(home, 10)) == ["succeeded"] * 10
    assert psycopg.connect(empty_database).execute(
        "SELECT concurrency_key, \"limit\" FROM concurrency_limits").fetchall() == [("warehouse", 2)]


def test_without_the_set_up_step_two_runs_creating_the_pool_collide(home: Path, empty_database: str) -> None:
    """The race made certain: another run's insert of the pool's row is held open while a run claims the pool;
    the run's own insert waits, then fails on the key. After the set-up step, the same run claims and goes on."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)):
        pass  # the instance's tables exist, the pool's row does not
    with psycopg.connect(empty_database) as other_run:  # what Dagster does for the other run: the row, its slots
        other_run.execute("INSERT INTO concurrency_limits (concurrency_key, \"limit\", using_default_limit) "
                          "VALUES ('warehouse', 2, true)")
        other_run.execute("INSERT INTO concurrency_slots (concurrency_key, deleted) VALUES ('warehouse', false), "
                          "('warehouse', false)")
        racing = runs(home, 1, start_in=0)
        deadline = time.monotonic() + 120
        with psycopg.connect(empty_database, autocommit=True) as watch:  # until the run waits for that insert
            while not watch.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND cardinality(pg_blocking_pids(pid)) > 0").fetchone()[0]:  # type: ignore[index]
                assert time.monotonic() < deadline and racing.poll() is None, outcomes(racing)
                time.sleep(0.1)
        other_run.commit()  # the other run got there first
    (failed,) = outcomes(racing)
    # its insert failed on the key; Dagster's fallback UPDATE then runs in the aborted transaction
    assert failed.startswith("failed: ") and "InFailedSqlTransaction" in failed and "concurrency_limits" in failed, failed

    with DagsterInstance.from_config(str(home)) as instance:
        assert init_dagster(instance, pools_of(defs)) == []  # the other run created it: nothing left to do
    assert outcomes(runs(home, 1, start_in=0)) == ["succeeded"]


def test_the_set_up_step_is_a_command_of_the_deployment(home: Path, empty_database: str) -> None:
    env = clean_env(DAGSTER_HOME=str(home), PYTHONWARNINGS="ignore")
    command = [str(Path(sys.executable).parent / "ecommerce-deploy"), "init-dagster"]
    first = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "concurrency pools created: warehouse" in first.stdout
    again = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "concurrency pools created: none (all exist)" in again.stdout
    assert os.environ.get("DAGSTER_HOME") != str(home)  # the test's own environment untouched
