"""The front door is true as written: the README opens with the two commands that matter, every command it
or the docs show names something that exists and carries no date that ages, every link leads somewhere,
and every variable a user may set is documented. (Running the commands: system/test_readme_commands.py.)"""

import re
import subprocess
import sys
from datetime import date

import pytest

from ecommerce_assets.definitions import build_defs
from ecommerce_assets.environment import resources_from_env
from ecommerce_assets_tests.support.docs import DOCS, README, SCRIPTS, TOOLS, fenced, tags
from ecommerce_assets_tests.support.helpers import REPO_ROOT, clean_env
from ecommerce_local.arguments import split
from ecommerce_local.cli import parse

COMMANDS = [*fenced(README, "setup"), *fenced(README, "commands"), *fenced(README, "compose"),
            *(command for text in DOCS.values() for command in fenced(text, "airflow"))]


def test_the_readme_opens_with_the_two_commands_and_stays_short() -> None:
    assert tags(README)[0] == "setup"
    assert fenced(README, "setup") == ["./scripts/run.sh --offline", "./scripts/test.sh"]
    assert README.index("```bash setup") < 1200, "the two commands come first"
    assert len(README.splitlines()) <= 150
    assert len(fenced(README, "commands")) >= 8 and len(fenced(README, "compose")) == 2


def test_the_readme_shows_what_the_first_run_prints() -> None:
    shown = README[README.index("```bash setup"):README.index("## What it builds")]
    for line in ("materializing raw_products_parquet →", "raw  fetched", "ods  ", "checks: 17 passed, 0 failed",
                 "dm.fct_ecommerce, report_date =", "dm.fct_sales, order_date =", "customer keys: HMAC secret kept in"):
        assert line in shown, line


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_names_something_that_exists(command: str) -> None:
    for program in re.findall(r"(?:^|&& )(\S+)", command):
        if program.startswith("./scripts/"):
            path = REPO_ROOT / program
            assert path.exists() and path.stat().st_mode & 0o111, f"{program} is not an executable script"
        elif program.startswith(".venv/bin/"):
            name = program.removeprefix(".venv/bin/")
            assert name in SCRIPTS or name in {"python", "pip", "dagster"}, f"{program}: no such entry point"
        elif program in ("cp", "docker"):
            assert command in ("cp .env.example .env", "docker compose up -d"), command
        else:
            pytest.fail(f"{command}: starts with {program}, which is neither ./scripts/ nor .venv/bin/")
    for module in re.findall(r"\bpython -m (\S+)", command):
        assert module in TOOLS, f"{command}: python -m {module} is not one of the project's tools"
    for path in re.findall(r"\b(benchmarks/\S+\.py)\b", command):
        assert (REPO_ROOT / path).exists(), path
    # relative dates only: a command with a fixed date would age into a refusal
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", command), command


def test_every_flag_the_readme_names_is_a_flag_of_run_sh(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["--help"], date.today())  # what ./scripts/run.sh --help prints
    shown = capsys.readouterr().out
    # run.sh's own part of each line (what follows ` -- ` is another program's), comments included
    run_sh = [line.split(" -- ")[0] for line in README.splitlines() if line.startswith("./scripts/run.sh")]
    named = set(re.findall(r"[\s`](--[a-z][a-z-]+)", " ".join(run_sh)))
    assert len(named) >= 10
    for flag in named:
        assert flag in shown, flag


def _run_sh_early(*argv: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "ecommerce_local", *argv], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60, env=clean_env())
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return done, imported


def test_run_sh_help_answers_before_the_platform_loads() -> None:
    """./scripts/run.sh --help prints the whole help, and a malformed command line is refused, without importing
    Dagster, the lake or the warehouse (4 s on a slow machine); `exec -- CMD --help` is the command's --help, not the
    runner's."""
    done, imported = _run_sh_early("--help")
    assert done.returncode == 0, done.stderr
    assert "usage: ./scripts/run.sh" in done.stdout and "--confirm-shrink" in done.stdout, done.stdout
    assert "ecommerce_local.arguments" in imported
    assert not {"dagster", "psycopg", "pyarrow", "ecommerce_local.cli", "ecommerce_assets"} & imported
    refused, imported = _run_sh_early("run", "--bogus")
    assert refused.returncode == 2 and "./scripts/run.sh: error: unrecognized arguments: --bogus" in refused.stderr
    assert not {"dagster", "ecommerce_local.cli"} & imported
    assert split(["exec", "--", "ls", "--help"]) == (["exec"], ["ls", "--help"])


@pytest.mark.parametrize("document", ["README.md", *DOCS])
def test_every_link_leads_somewhere(document: str) -> None:
    text = README if document == "README.md" else DOCS[document]
    base = REPO_ROOT if document == "README.md" else REPO_ROOT / "docs"
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if target.startswith("http"):
            continue
        assert (base / target).exists(), f"{document} links to {target}, which does not exist"


def test_the_readme_links_every_document() -> None:
    for name in ("architecture.md", "operations.md", "data-quality.md", "configuration.md", "testing.md"):
        assert f"(docs/{name})" in README, name
    assert "(benchmarks/README.md)" in README


def test_the_diagram_shows_every_asset() -> None:
    diagram = README[README.index("```mermaid"):]
    diagram = diagram[:diagram.index("```", 10)]
    keys = build_defs(resources_from_env()).resolve_asset_graph().get_all_asset_keys()
    assert len(keys) >= 6
    for key in keys:
        assert key.to_user_string() in diagram, key


def test_env_example_variables_are_documented() -> None:
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (REPO_ROOT / ".env.example").read_text(), re.M))
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", DOCS["configuration.md"]))
    compose_only = {"POSTGRES_PASSWORD", "ECOM_PG_BI_USER", "ECOM_PG_BI_PASSWORD", "AIRFLOW_DB_PASSWORD",
                    "METABASE_DB_PASSWORD", "METABASE_ADMIN_EMAIL", "METABASE_ADMIN_PASSWORD", "MINIO_ROOT_USER",
                    "MINIO_ROOT_PASSWORD", "ECOM_S3_ACCESS_KEY", "ECOM_S3_SECRET_KEY"}
    assert listed - compose_only - documented == set()
