"""The local runner as its user meets it: `./scripts/run.sh` and `python -m ecommerce_local` driven as subprocesses.

The happy path from nothing (embedded PostgreSQL, the persistent rclone lake, a re-run that reuses the
stored snapshot and writes nothing), and the error path: every configuration mistake ends in a few lines
that name the cause and the fix, within seconds, with a non-zero exit and no stack trace."""

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import requests
from psycopg import sql

from ecommerce_assets.dsn import with_database
from ecommerce_assets.lake import LakeResource
from ecommerce_assets_tests.support.cpu_time import cpu_seconds
from ecommerce_assets_tests.support.helpers import REPO_ROOT, clean_env, query
from ecommerce_catalog_server.daily import DailyCatalog
from ecommerce_local.services import embedded_postgres, free_port

TODAY = datetime.now(UTC).date()
YESTERDAY = str(TODAY - timedelta(days=1))
ANSI = re.compile(r"\x1b\[")


def simulated(day: str) -> tuple[int, int, int]:
    """(records, pages of 100, categories) of the bundled simulator's catalog of `day` (194 slots)."""
    catalog = DailyCatalog(194, date.fromisoformat(day))
    return catalog.total(), -(-catalog.total() // 100), len(catalog.categories())


@dataclass(frozen=True)
class Finished:
    code: int
    out: str
    err: str
    seconds: float
    cpu_seconds: float

    @property
    def both(self) -> str:
        return self.out + self.err


def local(args: list[str], env: dict[str, str], timeout: float = 180) -> Finished:
    started, cpu_before = time.monotonic(), cpu_seconds()
    done = subprocess.run([sys.executable, "-m", "ecommerce_local", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return Finished(done.returncode, done.stdout, done.stderr, time.monotonic() - started,
                    cpu_seconds() - cpu_before)


HANG_SECONDS = 90  # above any refusal's wall time under load (36.6 s seen), below a network hang's (minutes)


def assert_told(result: Finished, *phrases: str, max_seconds: float = 15, max_lines: int = 4) -> None:
    """Failed quickly, said so in a few lines on stderr, each phrase among them, no stack trace, no noise.
    Quickly: the work the command did (its CPU seconds and its children's) within `max_seconds`, and no long
    wait (a hang on a network timeout) — the wall clock within `HANG_SECONDS`. The wall clock is only a hang's
    bound: the suite's other workers share the cores and stretch every command's wall time (5.4 CPU-seconds
    took 36.6 s of wall time under a full suite on two cores; bounds of 15 s and then three times the CPU
    bound both failed under load)."""
    assert result.code != 0, result.both
    assert result.cpu_seconds < max_seconds, (result.cpu_seconds, result.both)
    assert result.seconds < HANG_SECONDS, (result.seconds, result.both)
    assert "Traceback" not in result.both and not ANSI.search(result.both), result.both
    lines = result.err.strip().splitlines()
    assert 1 <= len(lines) <= max_lines, result.err
    for phrase in phrases:
        assert phrase in result.err, (phrase, result.err)


def test_run_sh_from_nothing_keeps_its_data_and_a_rerun_reuses_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    command = ["bash", "scripts/run.sh", "--offline", "--state-dir", str(state)]
    first = subprocess.run(command, cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    output = first.stdout + first.stderr
    assert "Traceback" not in output and not ANSI.search(output) and "Warning" not in output, output
    records, pages, categories = simulated(YESTERDAY)
    assert f"fetched {records} records in {pages} pages" in first.stdout
    assert f"{records} accepted, 0 rejected" in first.stdout
    assert f"rows {records} inserted, 0 updated, 0 unchanged, 0 deleted" in first.stdout
    assert "chg  first snapshot in the ODS: nothing to compare it with, no changes" in first.stdout
    assert f"hist took in 1 day; {records} intervals of {records} products" in first.stdout
    assert "checks: 17 passed, 0 failed, 0 warned" in first.stdout  # 8 of the products, 9 of the sales
    mart = first.stdout[first.stdout.index("dm.fct_ecommerce, report_date = "):]
    assert mart.splitlines()[0] == f"dm.fct_ecommerce, report_date = {YESTERDAY}"
    assert len(mart.split("\n\n")[0].strip().splitlines()) == 3 + categories  # title, header, rule, categories
    # the simulator's state is kept apart from the real API's: in the state folder's offline/
    snapshot = (state / "offline" / "lake" / "ecommerce-lake" / "raw" / "products" / f"snapshot_date={YESTERDAY}"
                / "products.parquet")
    stored = snapshot.read_bytes()

    second = subprocess.run(command, cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"reused the stored snapshot, {records} records" in second.stdout
    assert f"rows unchanged ({records} rows already stored, nothing written)" in second.stdout
    assert f"dm   {categories} categories; rows unchanged ({categories} rows already stored, nothing written)" in second.stdout
    assert "hist nothing new" in second.stdout
    assert "migrations applied" not in second.stdout
    assert second.stdout[second.stdout.index("dm.fct_ecommerce, report_date = "):] == mart
    assert snapshot.read_bytes() == stored  # kept, not fetched again
    assert len(list((state / "offline" / "logs").glob(f"{YESTERDAY}_*.log"))) == 4  # two runs of the day, twice

    # Dagster's run history is in its own database, never among the warehouse's tables.
    with embedded_postgres(state / "offline" / "pgdata") as admin:
        warehouse, dagster = with_database(admin, "warehouse"), with_database(admin, "warehouse_dagster")
        assert query(warehouse, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s", (YESTERDAY,)) == [(records,)]
        assert query(warehouse, "SELECT count(*) FROM information_schema.tables WHERE table_name IN "
                                "('runs', 'event_logs')") == [(0,)]
        # each invocation: the day's two jobs (products, sales), then what the automation asks for next — the
        # history and the orders, then the sales and the customers that follow them
        assert query(dagster, "SELECT count(*) FROM runs WHERE status = 'SUCCESS'") == [(8,)]


def test_a_refused_run_says_why_and_the_flag_it_names_fixes_it(services_env: dict[str, str], pg_dsn: str,
                                                              tmp_path: Path) -> None:
    old = str(TODAY - timedelta(days=10))
    args = ["run", "--offline", "--state-dir", str(tmp_path), "--date", old]
    refused = local(args, services_env)
    assert_told(refused, "raw_products_parquet:", f"partition {old} is 10 days old",
                f"→ rerun: ./scripts/run.sh --offline --state-dir {tmp_path} --date {old} --allow-late-fetch",
                "not run: ods_fct_products, dm_fct_product_changes, dm_fct_ecommerce", "full log: ", max_seconds=60,
                max_lines=12)
    log = Path(refused.err.split("full log: ")[1].split()[0])
    story = log.read_text()  # the whole story is in the log, not on the terminal
    assert "STEP_FAILURE" in story and "Stack Trace:" in story and "raise Failure(" in story
    assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products") == [(0,)]

    allowed = local([*args, "--allow-late-fetch"], services_env)
    assert allowed.code == 0, allowed.both
    records, pages, _ = simulated(old)
    assert f"fetched {records} records in {pages} pages" in allowed.out and "Traceback" not in allowed.both
    assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s", (old,)) == [(records,)]
    assert query(pg_dsn, "SELECT sum(product_count) FROM dm.fct_ecommerce WHERE report_date = %s", (old,)) == [(records,)]


def test_days_builds_history_and_shows_the_last_days_changes(services_env: dict[str, str], pg_dsn: str,
                                                              tmp_path: Path) -> None:
    done = local(["run", "--offline", "--days", "3", "--state-dir", str(tmp_path)], services_env)
    assert done.code == 0, done.both
    days = [str(TODAY - timedelta(days=back)) for back in (3, 2, 1)]
    assert f"simulating 3 days, {days[0]} to {days[2]}" in done.out
    for day in days:
        assert f"\n{day}  fetched {simulated(day)[0]} records" in done.out
    stored = dict(query(pg_dsn, "SELECT change_type, count(*) FROM dm.fct_product_changes WHERE change_date = %s "
                                "GROUP BY 1", (days[2],)))
    line = next(x for x in done.out.splitlines() if x.startswith(f"changes on {days[2]} (against {days[1]}): "))
    assert f"{stored.get('price_changed', 0)} price changed" in line and f"{stored.get('restocked', 0)} restocked" in line
    assert "dm.dim_product_history, product " in done.out and "price changes from" in done.out
    assert query(pg_dsn, "SELECT count(*) FROM meta.applied_loads WHERE consumer = 'dm.dim_product_history'") == [(3,)]


def test_a_blocked_mart_names_the_flag_that_accepts_it(services_env: dict[str, str], pg_dsn: str,
                                                      tmp_path: Path) -> None:
    args = ["run", "--offline", "--awkward", "--state-dir", str(tmp_path), "--date", YESTERDAY]
    blocked = local(args, services_env)
    assert_told(blocked, "ods_fct_products__rejected_share:", "68 of 194 records were rejected (35.1% > 5.0%)",
                "--accept-rejected-share", "not run: dm_fct_product_changes, dm_fct_ecommerce", max_seconds=60,
                max_lines=10)
    assert "FAILED ods_fct_products__rejected_share: rejected_share=0.350515" in blocked.out
    assert query(pg_dsn, "SELECT count(*) FROM dm.fct_ecommerce") == [(0,)]

    accepted = local([*args, "--accept-rejected-share"], services_env)
    assert accepted.code == 0, accepted.both
    assert "reused the stored snapshot, 196 records" in accepted.out
    assert query(pg_dsn, "SELECT sum(product_count) FROM dm.fct_ecommerce") == [(126,)]


@pytest.mark.parametrize(("arguments", "phrases"), [
    ("--offline --date 2026-13-01", ["--date 2026-13-01: not a date (month must be in 1..12)", f"e.g. --date {YESTERDAY}"]),
    ("--offline --date yesterday", ["--date yesterday: not a date"]),
    (f"--offline --date {TODAY}", [f"--date {TODAY}: today", f"the latest is --date {YESTERDAY}"]),
    (f"--offline --date {TODAY + timedelta(days=1)}", ["a future day", f"the latest is --date {YESTERDAY}"]),
    ("--offline --date 2024-12-31", ["before the first partition", "from 2025-01-01"]),
    ("--offline --date 2025-01-02 --days 5", ["starts before the first partition (2025-01-01)"]),
    ("--days 3", ["--days 3: a past day's catalog exists only in the simulator", "add --offline"]),
    ("--offline --days 0", ["--days 0: at least 1"]),
])
def test_an_invalid_date_is_refused_before_anything_starts(arguments: str, phrases: list[str], tmp_path: Path) -> None:
    result = local(["run", *arguments.split(), "--state-dir", str(tmp_path)], clean_env())
    assert_told(result, *phrases, max_seconds=10)
    assert result.out == "" and not list(tmp_path.rglob("pgdata"))  # nothing was started


def test_postgres_that_is_not_there_or_refuses(pg_admin_dsn: str, tmp_path: Path) -> None:
    closed = local(["run", "--offline", "--state-dir", str(tmp_path)],
                   clean_env(ECOM_PG_DSN="postgresql://postgres@127.0.0.1:1/warehouse"))
    assert_told(closed, "ECOM_PG_DSN: PostgreSQL at 127.0.0.1:1", "Connection refused",
                "start PostgreSQL or fix the host and port in ECOM_PG_DSN", "unset ECOM_PG_DSN")

    no_database = local(["run", "--offline", "--state-dir", str(tmp_path)],
                        clean_env(ECOM_PG_DSN=with_database(pg_admin_dsn, "no_such_warehouse")))
    assert_told(no_database, 'database "no_such_warehouse" does not exist', "createdb")

    no_login = local(["run", "--offline", "--state-dir", str(tmp_path)],
                     clean_env(ECOM_PG_DSN="postgresql://no_such_login@127.0.0.1:5432/postgres"))
    assert_told(no_login, 'role "no_such_login" does not exist', "create the login no_such_login")

    not_a_url = local(["run", "--offline", "--state-dir", str(tmp_path)], clean_env(ECOM_PG_DSN="warehouse please"))
    assert_told(not_a_url, "ECOM_PG_DSN must be a libpq URL")


@pytest.fixture(scope="module")
def password_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL that checks passwords (SCRAM) for the login `checked`, whose password is `right`."""
    datadir = tmp_path_factory.mktemp("scram") / "pgdata"
    with embedded_postgres(datadir) as admin:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            conn.execute("CREATE ROLE checked LOGIN PASSWORD 'right'")
            hba = Path(conn.execute("SHOW hba_file").fetchone()[0])  # type: ignore[index]
            hba.write_text("local all checked scram-sha-256\n" + hba.read_text())
            conn.execute("SELECT pg_reload_conf()")
        socket_dir = admin.split("host=")[1].split("&")[0]
        yield f"postgresql://checked:{{password}}@/postgres?host={socket_dir}"


def test_a_wrong_password_is_named_and_not_shown(password_postgres: str, tmp_path: Path) -> None:
    with psycopg.connect(password_postgres.format(password="right")) as conn:  # the server does check
        assert conn.execute("SELECT current_user").fetchone() == ("checked",)
    result = local(["run", "--offline", "--state-dir", str(tmp_path)],
                   clean_env(ECOM_PG_DSN=password_postgres.format(password="not-the-secret")))
    assert_told(result, 'password authentication failed for user "checked"', "fix the password in ECOM_PG_DSN")
    assert "not-the-secret" not in result.both


def test_dagster_history_is_never_written_into_the_warehouse(pg_dsn: str, pg_admin_dsn: str, s3_endpoint: str,
                                                            lake: LakeResource, tmp_path: Path) -> None:
    result = local(["run", "--offline", "--state-dir", str(tmp_path)], clean_env(ECOM_PG_DSN=pg_dsn, DAGSTER_PG_URL=pg_dsn))
    assert_told(result, "DAGSTER_PG_URL names the warehouse database of ECOM_PG_DSN", "a database of its own")

    # Unset, it is derived visibly: `<warehouse>_dagster` on the same server, created for the purpose.
    warehouse = pg_dsn.rsplit("/", 1)[1]
    derived = f"{warehouse}_dagster"
    env = clean_env(ECOM_PG_DSN=pg_dsn, ECOM_S3_ENDPOINT_URL=s3_endpoint, ECOM_S3_BUCKET=lake.bucket,
                    AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    try:
        done = local(["run", "--offline", "--state-dir", str(tmp_path)], env)
        assert done.code == 0, done.both
        assert f"Dagster's run history in database {derived} beside the warehouse (DAGSTER_PG_URL unset)" in done.out
        # the day's two jobs; the history and the orders; the sales and the customers
        assert query(with_database(pg_admin_dsn, derived), "SELECT count(*) FROM runs") == [(4,)]
        assert query(pg_dsn, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'") == [(0,)]
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(derived)))


def test_s3_without_credentials_or_server(pg_dsn: str, empty_database: str, s3_endpoint: str, tmp_path: Path) -> None:
    base = {"ECOM_PG_DSN": pg_dsn, "DAGSTER_PG_URL": empty_database}
    no_keys = local(["run", "--offline", "--state-dir", str(tmp_path)], clean_env(**base, ECOM_S3_ENDPOINT_URL=s3_endpoint))
    assert_told(no_keys, f"S3 at {s3_endpoint} (ECOM_S3_ENDPOINT_URL): no credentials",
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    nothing = local(["run", "--offline", "--state-dir", str(tmp_path)],
                    clean_env(**base, ECOM_S3_ENDPOINT_URL="http://127.0.0.1:1", AWS_ACCESS_KEY_ID="k",
                              AWS_SECRET_ACCESS_KEY="s"))
    assert_told(nothing, "S3 at http://127.0.0.1:1 (ECOM_S3_ENDPOINT_URL): nothing answers")


@pytest.mark.parametrize(("api", "reason"), [
    ("http://127.0.0.1:1", "the connection was refused"),
    ("http://catalog.invalid", "its host name does not resolve"),
])
def test_an_unreachable_api_fails_fast_and_mentions_offline(services_env: dict[str, str], api: str, reason: str,
                                                           tmp_path: Path) -> None:
    result = local(["run", "--state-dir", str(tmp_path)], {**services_env, "ECOM_API_BASE_URL": api})
    assert_told(result, f"catalog API {api} (ECOM_API_BASE_URL): {reason}", "run with --offline", max_seconds=12)


def test_exec_runs_a_command_with_the_services_variables(services_env: dict[str, str], tmp_path: Path) -> None:
    result = local(["exec", "--offline", "--state-dir", str(tmp_path), "--", sys.executable, "-c",
                    "import os; print(os.environ['ECOM_API_BASE_URL'], os.environ['DAGSTER_HOME'])"], services_env)
    assert result.code == 0, result.both
    url, home = result.out.strip().splitlines()[-1].split()
    assert url.startswith("http://127.0.0.1:") and home == str(tmp_path / "offline" / "dagster_home")
    failing = local(["exec", "--state-dir", str(tmp_path), "--", "no-such-command-here"], services_env)
    assert_told(failing, "exec: no such command: no-such-command-here")


def test_dev_serves_the_ui_and_stops_everything_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "ecommerce_local", "dev", "--offline", "--port",
                                str(port), "--state-dir", str(tmp_path)], cwd=REPO_ROOT, env=clean_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, process.communicate()[0]
            time.sleep(1)
        else:
            pytest.fail("the UI did not answer within 120 s")
        # a second UI on the same state folder refuses at once, naming the one that runs, and starts nothing
        second = local(["dev", "--offline", "--port", str(free_port()), "--state-dir", str(tmp_path)], clean_env())
        assert second.code == 2, second.both
        assert_told(second, "dev is already running on the state folder", f"pid {process.pid}",
                    f"UI http://127.0.0.1:{port}", max_seconds=15, max_lines=2)
        process.terminate()  # as a service manager (or a backgrounded shell) would stop it
        output, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "Traceback" not in output and "RuntimeDirWarning" not in output, output
    assert f"Dagster UI on http://127.0.0.1:{port}" in output
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout
    assert leftovers == "", leftovers  # no rclone, no PostgreSQL, no Dagster process of this state folder


def test_the_simulators_snapshot_is_never_taken_for_the_real_apis(services_env: dict[str, str], pg_dsn: str,
                                                                    tmp_path: Path) -> None:
    """Embedded services keep the simulator's state apart (the state folder's offline/); on services the two
    share (configured here), a run reading the real API refuses the simulator's stored snapshot, naming both
    sources and the fix — it does not report the simulator's catalog as the API's."""
    offline = local(["run", "--offline", "--state-dir", str(tmp_path)], services_env)
    assert offline.code == 0, offline.both
    real = local(["run", "--state-dir", str(tmp_path)], {**services_env, "ECOM_API_BASE_URL": "http://127.0.0.1:1"})
    assert f"catalog: http://127.0.0.1:1 not needed: the snapshot of {YESTERDAY} is stored (from " \
           "ecommerce_catalog_server (daily catalog, seed 42, 194 products))" in real.out
    assert_told(real, "raw_products_parquet:", "→ rerun: ./scripts/run.sh", "--refetch", max_seconds=60, max_lines=12)
    said = " ".join(real.err.split())  # as one text: the report wraps its lines
    assert "came from ecommerce_catalog_server (daily catalog, seed 42, 194 products), but this run reads " \
           "http://127.0.0.1:1" in said
    records = simulated(YESTERDAY)[0]
    assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s", (YESTERDAY,)) == [(records,)]
