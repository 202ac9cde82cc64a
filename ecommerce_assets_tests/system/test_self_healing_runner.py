"""The local runner and runs that die or meet a fault: two runners SIGKILLed in a row mid-load leave runs STARTED that hold the
`warehouse` pool's slots; the next `./scripts/run.sh` frees them, says so, and completes the day exactly.
Ctrl-C and SIGTERM stop a run in one line, exit 130, the run cancelled and its slots free. A warehouse that
goes away mid-run: each retry is said as it happens, and the run exits 0 once the day healed."""

import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ecommerce_assets_tests.support.helpers import REPO_ROOT, query
from ecommerce_assets_tests.support.outage import outage_of
from ecommerce_catalog_server.daily import DailyCatalog

DAY = str(datetime.now(UTC).date() - timedelta(days=1))  # a day the runner fetches without --allow-late-fetch
PRODUCTS = 40_000  # an ODS load long enough to be caught in the middle


def start(env: dict[str, str], state: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ecommerce_local", "run", "--offline", "--date", DAY, "--products",
                             str(PRODUCTS), "--state-dir", str(state)], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def claimed_slots(dagster_db: str) -> list[tuple[str, str, str]]:
    return query(dagster_db, "SELECT concurrency_key, step_key, run_id FROM concurrency_slots WHERE run_id IS NOT NULL")


def wait_for_a_claimed_slot(process: subprocess.Popen[str], dagster_db: str, timeout: float = 120) -> None:
    """Until a step of this runner's run holds a slot of the warehouse pool (its ODS load has begun)."""
    deadline = time.monotonic() + timeout
    try:
        before = {run for *_, run in claimed_slots(dagster_db)}
    except Exception:  # the first runner has not created Dagster's tables yet
        before = set()
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if {run for *_, run in claimed_slots(dagster_db)} - before:
                return
        except Exception:
            pass
        time.sleep(0.05)
    pytest.fail("no step claimed a warehouse slot")


def expected_rows() -> int:
    return DailyCatalog(PRODUCTS, date.fromisoformat(DAY)).total()


def test_two_killed_runners_are_freed_and_the_next_run_completes_the_day(services_env: dict[str, str],
                                                                          pg_dsn: str, tmp_path: Path) -> None:
    dagster_db = services_env["DAGSTER_PG_URL"]
    env = {**services_env, "ECOM_API_PAGE_SIZE": "1000"}
    said = []
    for _ in range(2):
        runner = start(env, tmp_path)
        wait_for_a_claimed_slot(runner, dagster_db)
        runner.send_signal(signal.SIGKILL)  # as a lost host or `kill -9`: nothing runs after it
        said.append(runner.communicate(timeout=30)[0])
    assert "freed: run " not in said[0] and "freed: run " in said[1], said  # the second freed the first's run
    assert query(dagster_db, "SELECT count(*) FROM runs WHERE status = 'STARTED'") == [(1,)]
    assert claimed_slots(dagster_db), "the killed run still holds its slot"

    finished = subprocess.run([sys.executable, "-m", "ecommerce_local", "run", "--offline", "--date", DAY, "--products",
                               str(PRODUCTS), "--state-dir", str(tmp_path)], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    freed = [line for line in finished.stdout.splitlines() if line.startswith("freed: run ")]
    assert len(freed) == 1, finished.stdout
    assert "its process" in freed[0] and "is gone; marked failed, freed its slots: warehouse (" in freed[0], freed
    assert "Traceback" not in finished.stdout + finished.stderr
    assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s", (DAY,)) == [(expected_rows(),)]
    # one copy: no stage left behind by the dead loads, every slot free, the dead runs failed and tagged
    assert query(pg_dsn, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'staging'") == [(0,)]
    assert claimed_slots(dagster_db) == []
    assert query(dagster_db, "SELECT count(*) FROM runs WHERE status IN ('STARTED', 'STARTING')") == [(0,)]
    dead = query(dagster_db, "SELECT count(*) FROM run_tags WHERE key = 'ecom/dead_run'")
    assert dead == [(2,)], dead


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_stops_the_run_in_one_line(services_env: dict[str, str], pg_dsn: str, tmp_path: Path,
                                                 stop: signal.Signals) -> None:
    dagster_db = services_env["DAGSTER_PG_URL"]
    runner = start({**services_env, "ECOM_API_PAGE_SIZE": "1000"}, tmp_path)
    wait_for_a_claimed_slot(runner, dagster_db)
    runner.send_signal(stop)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, out + err
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted: run "), err
    assert ", nothing half-written" in lines[0]
    run_id = lines[0].removeprefix("interrupted: run ").split()[0]
    status = query(dagster_db, "SELECT status FROM runs WHERE run_id LIKE %s", (f"{run_id}%",))
    if "had finished" in lines[0]:  # the signal came as the run ended: it stopped before the next
        assert status == [("SUCCESS",)], status
    else:
        assert "cancelled" in lines[0] and status in ([("CANCELED",)], [("FAILURE",)]), status
    assert claimed_slots(dagster_db) == []
    assert query(dagster_db, "SELECT count(*) FROM runs WHERE status IN ('STARTED', 'STARTING')") == [(0,)]
    # nothing half-written: the day is either not in the ODS or whole, and no stage is left
    rows = query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s", (DAY,))[0][0]
    assert rows in (0, expected_rows())


def test_the_runner_says_each_retry_and_exits_0_when_the_day_healed(services_env: dict[str, str], pg_dsn: str,
                                                                    tmp_path: Path) -> None:
    parts = conninfo_to_dict(pg_dsn)
    with outage_of(str(parts.get("host") or "127.0.0.1"), int(parts.get("port") or 5432)) as warehouse:
        env = {**services_env, "ECOM_PG_DSN": make_conninfo(pg_dsn, host="127.0.0.1", port=str(warehouse.port))}
        runner = subprocess.Popen([sys.executable, "-m", "ecommerce_local", "run", "--offline", "--date", DAY,
                                   "--state-dir", str(tmp_path)], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        assert runner.stdout is not None
        lines = []
        for line in runner.stdout:  # the warehouse goes away once the runs begin (after the runner's own checks)
            lines.append(line)
            if line.startswith("materializing "):
                warehouse.down()
                threading.Timer(8, warehouse.up).start()
                break
        out, err = runner.communicate(timeout=300)
    out = "".join(lines) + out
    assert runner.returncode == 0, out + err
    retries = [line for line in out.splitlines() if line.startswith("retry ")]
    assert retries, out
    assert retries[0].startswith("retry ods_products: warehouse unreachable (connection refused), retry 1 of 5 in "), retries
    assert "checks: 17 passed, 0 failed" in out and "Traceback" not in out + err
    assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s", (DAY,)) == \
        [(DailyCatalog(194, date.fromisoformat(DAY)).total(),)]
