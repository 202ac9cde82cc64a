"""The README's local section is true as written: every command it shows exists, the cheap ones are run
here exactly as printed (through bash, relative dates and all), and no command carries a date that ages."""

import re
import subprocess
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ecommerce_assets_tests.conftest import REPO_ROOT
from ecommerce_assets_tests.helpers import clean_env, query
from ecommerce_catalog_server.daily import DailyCatalog

README = (REPO_ROOT / "README.md").read_text()
LOCAL = README[README.index("## On this machine, without Docker"):README.index("## Architecture")]
AIRFLOW = README[README.index("**Try it on this machine**"):README.index("## Configuration")]
YESTERDAY = str(datetime.now(UTC).date() - timedelta(days=1))
SCRIPTS = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
TOOLS = ("ecommerce_local", "ecommerce_catalog_server")  # development tools, run as modules


def fenced_commands(text: str) -> list[str]:
    """The commands of the ```bash blocks, comments stripped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command:
                commands.append(command)
    return commands


def table_commands(text: str) -> list[str]:
    """The first cell of every command table row, unescaped as Markdown shows it."""
    return [cell.replace("\\|", "|") for cell in re.findall(r"^\| `(.+?)` \|", text, re.M)
            if cell.startswith(("./", ".venv/"))]


COMMANDS = fenced_commands(LOCAL) + table_commands(LOCAL) + fenced_commands(AIRFLOW)


def test_the_local_section_shows_the_commands_a_newcomer_needs() -> None:
    assert fenced_commands(LOCAL)[:2] == ["./scripts/run.sh --offline", "./scripts/test.sh"]
    assert len(table_commands(LOCAL)) >= 10


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_names_something_that_exists(command: str) -> None:
    for program in re.findall(r"(?:^|&& )(\S+)", command):
        if program.startswith("./scripts/"):
            path = REPO_ROOT / program
            assert path.exists() and path.stat().st_mode & 0o111, f"{program} is not an executable script"
        elif program.startswith(".venv/bin/"):
            name = program.removeprefix(".venv/bin/")
            assert name in SCRIPTS or name in {"python", "pip", "dagster"}, f"{program}: no such entry point"
        else:
            pytest.fail(f"{command}: starts with {program}, which is neither ./scripts/ nor .venv/bin/")
    for module in re.findall(r"\bpython -m (\S+)", command):
        assert module in TOOLS, f"{command}: python -m {module} is not one of the project's tools"
    for path in re.findall(r"\b(benchmarks/\S+\.py)\b", command):
        assert (REPO_ROOT / path).exists(), path
    # relative dates only: a command with a fixed date would age into a refusal
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", command), command


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


def test_run_sh_help_lists_every_flag_the_readme_names() -> None:
    shown = run_help(["bash", "scripts/run.sh", "--help"])
    row = next(line for line in LOCAL.splitlines() if line.startswith("| `./scripts/run.sh --help`"))
    flags = set(re.findall(r"`(--[a-z-]+)", row))
    assert len(flags) >= 10
    for flag in flags:
        assert flag in shown, flag


@pytest.mark.integration
@pytest.mark.parametrize("command", [c for c in table_commands(LOCAL) if c.startswith("./scripts/run.sh exec ")])
def test_the_exec_rows_run_as_printed(command: str, services_env: dict[str, str], pg_dsn: str, tmp_path: Path) -> None:
    env = {**services_env, "ECOM_LOCAL_STATE_DIR": str(tmp_path)}
    done = subprocess.run(["bash", "-c", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = DailyCatalog(194, date.fromisoformat(YESTERDAY)).total()
    assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s", (YESTERDAY,)) == [(records,)]
    assert query(pg_dsn, "SELECT sum(product_count) FROM dm.fct_ecommerce WHERE report_date = %s",
                 (YESTERDAY,)) == [(records,)]


@pytest.mark.integration
def test_airflow_sh_finds_the_three_dags(tmp_path: Path) -> None:
    env = {**clean_env(), "AIRFLOW_HOME": str(tmp_path / "airflow")}
    for args in (["dags", "reserialize"], ["dags", "list", "-o", "plain"]):
        done = subprocess.run(["bash", "scripts/airflow.sh", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    listed = {line.split()[0] for line in done.stdout.splitlines() if "/airflow/dags/" in line}
    assert listed == {"raw_s3_api", "ecommerce_ods_pg", "dm_ecommerce_analytics"}
    assert (tmp_path / "airflow" / "airflow.db").exists()


def test_env_example_variables_are_documented() -> None:
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (REPO_ROOT / ".env.example").read_text(), re.M))
    configuration = README[README.index("## Configuration"):README.index("## Tests")]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", configuration))
    compose_only = {"POSTGRES_PASSWORD", "ECOM_PG_BI_USER", "ECOM_PG_BI_PASSWORD", "AIRFLOW_DB_PASSWORD",
                    "METABASE_DB_PASSWORD", "METABASE_ADMIN_EMAIL", "METABASE_ADMIN_PASSWORD", "MINIO_ROOT_USER",
                    "MINIO_ROOT_PASSWORD", "ECOM_S3_ACCESS_KEY", "ECOM_S3_SECRET_KEY"}
    assert listed - compose_only - documented == set()
