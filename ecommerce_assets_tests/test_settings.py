"""Configuration is visible in Dagster: every setting of every resource appears, described, in what the UI
shows (the repository snapshot the webserver reads), with the value in effect — secrets by variable name
only — and every setting is documented in `.env.example` and the README's configuration table."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ecommerce_assets.settings import SETTINGS, SettingError, integer
from ecommerce_assets_tests.conftest import REPO_ROOT
from ecommerce_assets_tests.helpers import clean_env

# Where each variable lands: (resource key in the Definitions, field)
FIELD_OF = {
    "ECOM_API_BASE_URL": ("catalog_api", "base_url"),
    "ECOM_API_PAGE_SIZE": ("catalog_api", "page_size"),
    "ECOM_API_MAX_RECORDS": ("catalog_api", "max_records"),
    "ECOM_API_CONCURRENCY": ("catalog_api", "concurrency"),
    "ECOM_S3_BUCKET": ("lake", "bucket"),
    "ECOM_S3_ENDPOINT_URL": ("lake", "endpoint_url"),
    "AWS_REGION": ("lake", "region"),
    "ECOM_PG_DSN": ("postgres", "dsn"),
    "ECOM_ALERT_WEBHOOK_URL": ("alert_webhook", "url"),
    "ECOM_MAX_REJECTED_SHARE": ("quality", "max_rejected_share"),
    "ECOM_MAX_CATALOG_SHRINK": ("quality", "max_catalog_shrink"),
    "ECOM_ODS_RETENTION_DAYS": ("retention", "ods_days"),
    "ECOM_DUCKDB_MEMORY_LIMIT": ("duckdb", "memory_limit"),
    # the executor's settings are not a resource's (test_executors.py checks them)
    "ECOM_EXECUTOR": ("executor", "kind"),
    "ECOM_CELERY_BROKER_URL": ("executor", "broker"),
    "ECOM_CELERY_BACKEND_URL": ("executor", "backend"),
    "ECOM_DM_DEADLINE": ("freshness", "deadline"),
    "ECOM_DM_DEADLINE_TZ": ("freshness", "deadline_timezone"),
}

SHOW = """
import json
from dagster._core.remote_representation.external_data import RepositorySnap
from ecommerce_assets.definitions import defs
snap = RepositorySnap.from_def(defs.get_repository_def())
shown = {}
for resource in snap.resources:
    fields = {f.name: f.description or "" for f in resource.config_field_snaps}
    # the UI shows a field's configured value, else the field's default
    values = {f.name: json.loads(f.default_value_as_json_str) for f in resource.config_field_snaps if f.default_provided}
    values.update({k: ({"env": v.name} if hasattr(v, "name") else json.loads(v))
                   for k, v in resource.configured_values.items()})
    shown[resource.name] = {"fields": fields, "values": values}
print(json.dumps(shown))
"""


def shown_by_ui(env: dict[str, str]) -> dict[str, Any]:
    """What the webserver would show on Deployment → Resources, for a code location loaded with `env`."""
    done = subprocess.run([sys.executable, "-c", SHOW], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))


def test_the_mapping_covers_every_setting() -> None:
    assert set(FIELD_OF) == {s.variable for s in SETTINGS}


def test_every_field_of_every_resource_is_shown_with_a_description() -> None:
    shown = shown_by_ui(clean_env())
    assert set(shown) >= {"catalog_api", "lake", "postgres", "duckdb", "s3_parquet_io_manager", "alert_webhook",
                          "freshness", "quality", "retention"}
    for name, resource in shown.items():
        for field, description in resource["fields"].items():
            assert field in resource["values"], f"{name}.{field} is not shown"
            assert description.strip(), f"{name}.{field} has no description"


def test_values_in_effect_are_shown_and_secrets_only_by_name() -> None:
    env = clean_env(ECOM_API_BASE_URL="https://catalog.example", ECOM_API_PAGE_SIZE="7",
                    ECOM_API_MAX_RECORDS="1000", ECOM_S3_BUCKET="my-lake", ECOM_S3_ENDPOINT_URL="http://minio:9000",
                    AWS_REGION="eu-west-1", ECOM_MAX_REJECTED_SHARE="0.2", ECOM_MAX_CATALOG_SHRINK="0.75",
                    ECOM_DM_DEADLINE="07:30", ECOM_DM_DEADLINE_TZ="UTC", ECOM_API_CONCURRENCY="4",
                    ECOM_ODS_RETENTION_DAYS="30", ECOM_DUCKDB_MEMORY_LIMIT="2GB",
                    ECOM_PG_DSN="postgresql://pipeline:hunter2@db/warehouse",
                    ECOM_ALERT_WEBHOOK_URL="https://hooks.example/T0/secret-token")
    shown = shown_by_ui(env)
    for setting in SETTINGS:
        resource, field = FIELD_OF[setting.variable]
        if resource == "executor":
            continue
        value = shown[resource]["values"][field]
        if setting.secret:
            assert value == {"env": setting.variable}
        else:
            assert str(value) == env[setting.variable], (setting.variable, value)
        assert f"${setting.variable}" in shown[resource]["fields"][field] or setting.variable in shown[resource]["fields"][field]
    assert "hunter2" not in json.dumps(shown) and "secret-token" not in json.dumps(shown)


def test_unset_settings_show_their_documented_defaults() -> None:
    shown = shown_by_ui(clean_env())
    for setting in SETTINGS:
        resource, field = FIELD_OF[setting.variable]
        if resource == "executor":
            continue
        value = shown[resource]["values"].get(field)
        if setting.secret:
            expected: Any = {"env": setting.variable} if setting.variable == "ECOM_PG_DSN" else None
            assert value == expected, (setting.variable, value)
        else:
            assert str(value if value is not None else "") == setting.default, (setting.variable, value)


def test_a_malformed_setting_stops_the_load_naming_the_variable() -> None:
    done = subprocess.run([sys.executable, "-c", "import ecommerce_assets.definitions"], cwd=REPO_ROOT,
                          env=clean_env(ECOM_API_PAGE_SIZE="ten"), capture_output=True, text=True)
    assert done.returncode != 0
    assert "ECOM_API_PAGE_SIZE='ten' is not a whole number (default 100)" in done.stderr
    with pytest.raises(SettingError):
        integer("ECOM_DM_DEADLINE")  # "09:00"


def test_every_setting_is_documented_in_env_example_and_readme() -> None:
    example = (REPO_ROOT / ".env.example").read_text()
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration"):readme.index("## Tests")]
    for setting in SETTINGS:
        assert re.search(rf"^#?\s*{setting.variable}=", example, re.M), f"{setting.variable} missing in .env.example"
        row = next((line for line in table.splitlines() if f"`{setting.variable}`" in line), None)
        assert row is not None, f"{setting.variable} missing in the README's configuration table"
        if setting.default:
            assert setting.default in row.replace(",", "").replace("`", "") or \
                f"{int(setting.default):,}".replace(",", "") in row.replace(",", ""), (setting.variable, row)


LAYERS_WITHOUT_ENVIRONMENT = ("assets", "resources", "io_managers", "transforms", "checks.py", "sensors.py",
                              "automation.py", "jobs.py", "schedules.py", "definitions.py", "lake_keys.py")


@pytest.mark.parametrize("part", LAYERS_WITHOUT_ENVIRONMENT)
def test_nothing_but_settings_reads_the_environment(part: str) -> None:
    root = REPO_ROOT / "ecommerce_assets" / part
    for path in [root] if root.is_file() else sorted(Path(root).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                pytest.fail(f"{path.relative_to(REPO_ROOT)}:{node.lineno} reads the environment")
