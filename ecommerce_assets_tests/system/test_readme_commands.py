"""The README's commands run as printed, through bash (relative dates and quoting as a user pastes them):
every program answers --help without doing anything, the `exec` and `psql` commands reach the services the
runner configured — the chain materialized through Dagster's own CLI, then counted through psql — and
scripts/airflow.sh finds the three DAGs."""

import re
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ecommerce_assets_tests.support.docs import README, SCRIPTS, TOOLS, fenced
from ecommerce_assets_tests.support.helpers import REPO_ROOT, clean_env, query
from ecommerce_catalog_server.daily import DailyCatalog

YESTERDAY = str(datetime.now(UTC).date() - timedelta(days=1))
# run in the order shown: the exec line builds the day the psql lines then read
SERVICE_COMMANDS = [c for c in fenced(README, "commands")
                    if c.startswith(("./scripts/run.sh exec ", "./scripts/run.sh psql ")) and " -- " in c]


def run_help(argv: list[str]) -> str:
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def test_every_program_answers_help_without_doing_anything() -> None:
    for name in SCRIPTS:
        assert "usage:" in run_help([str(REPO_ROOT / ".venv" / "bin" / name), "--help"])
    for module in TOOLS:
        assert "usage: " in run_help([str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", module, "--help"])
    scripts = [*sorted(p.name for p in (REPO_ROOT / "benchmarks").glob("bench_*.py")), "fault_report.py"]
    assert len(scripts) >= 6
    for script in scripts:
        assert "usage:" in run_help([str(REPO_ROOT / ".venv" / "bin" / "python"), f"benchmarks/{script}", "--help"]), script
    assert "--offline" in run_help(["bash", "scripts/run.sh", "--help"])


def test_the_exec_and_psql_commands_run_as_printed(services_env: dict[str, str], pg_dsn: str, tmp_path: Path) -> None:
    assert [c.split()[1] for c in SERVICE_COMMANDS] == ["exec", "psql", "exec"], SERVICE_COMMANDS
    env = {**services_env, "ECOM_LOCAL_STATE_DIR": str(tmp_path)}
    printed = []
    for command in SERVICE_COMMANDS:
        done = subprocess.run(["bash", "-c", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, command + "\n" + done.stdout[-3000:] + done.stderr[-3000:]
        printed.append(done.stdout)
    records = DailyCatalog(194, date.fromisoformat(YESTERDAY)).total()
    assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s", (YESTERDAY,)) == [(records,)]
    assert query(pg_dsn, "SELECT sum(product_count) FROM dm.fct_ecommerce WHERE report_date = %s",
                 (YESTERDAY,)) == [(records,)]
    # psql reached this warehouse (the one ECOM_PG_DSN names), not another server
    assert re.search(rf"^ count \n-+\n +{records}\n\(1 row\)$", printed[1], re.M), printed[1]
    assert "product_count" in printed[2] and "(5 rows)" in printed[2], printed[2]


@pytest.mark.parametrize("document", ["operations.md"])
def test_airflow_sh_finds_the_three_dags(document: str, tmp_path: Path) -> None:
    text = (REPO_ROOT / "docs" / document).read_text()
    shown = fenced(text, "airflow")
    assert {c.split()[3] for c in shown if c.startswith("./scripts/airflow.sh dags test")} == {
        "raw_s3_api", "ecommerce_ods_pg", "dm_ecommerce_analytics"}
    env = {**clean_env(), "AIRFLOW_HOME": str(tmp_path / "airflow")}
    for args in (["dags", "reserialize"], ["dags", "list", "-o", "plain"]):
        done = subprocess.run(["bash", "scripts/airflow.sh", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    listed = {line.split()[0] for line in done.stdout.splitlines() if "/airflow/dags/" in line}
    assert listed == {"raw_s3_api", "ecommerce_ods_pg", "dm_ecommerce_analytics"}
    assert (tmp_path / "airflow" / "airflow.db").exists()
