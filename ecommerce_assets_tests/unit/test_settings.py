"""Configuration is visible in Dagster: every setting of every resource appears, described, in what the UI
shows (the repository snapshot the webserver reads), with the value in effect — secrets by variable name
only — and every setting is documented in `.env.example` and the configuration table (docs/configuration.md)."""

import ast
import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap

from ecommerce_assets.definitions import build_defs
from ecommerce_assets.environment import resources_from_env, sensor_pace_from_env
from ecommerce_assets.executors import executor_from_env
from ecommerce_assets.resources.catalog_api import CatalogClient, ClientSettings
from ecommerce_assets.settings import SETTINGS, SettingError, integer
from ecommerce_assets.transforms.raw_snapshot import page_parser
from ecommerce_assets_tests.support.helpers import REPO_ROOT, newcomer
from ecommerce_assets_tests.support.http_servers import QuietHandler, serving

# Where each variable lands: (resource key in the Definitions, field)
FIELD_OF = {
    "ECOM_API_BASE_URL": ("catalog_api", "base_url"),
    "ECOM_API_SOURCE_NAME": ("catalog_api", "source_name"),
    "ECOM_API_PAGE_SIZE": ("catalog_api", "page_size"),
    "ECOM_API_MAX_RECORDS": ("catalog_api", "max_records"),
    "ECOM_API_CONCURRENCY": ("catalog_api", "concurrency"),
    "ECOM_S3_BUCKET": ("lake", "bucket"),
    "ECOM_S3_ENDPOINT_URL": ("lake", "endpoint_url"),
    "AWS_REGION": ("lake", "region_name"),
    "ECOM_PG_DSN": ("warehouse", "dsn"),
    "ECOM_ALERT_WEBHOOK_URL": ("alert_webhook", "url"),
    "ECOM_PII_KEY": ("pii", "key"),
    "ECOM_MAX_REJECTED_SHARE": ("quality", "max_rejected_share"),
    "ECOM_MAX_CATALOG_SHRINK": ("quality", "max_catalog_shrink"),
    "ECOM_ODS_RETENTION_DAYS": ("retention", "ods_days"),
    "ECOM_DUCKDB_MEMORY_LIMIT": ("duckdb", "memory_limit"),
    # the executor's settings are not a resource's (test_executors.py checks them)
    "ECOM_EXECUTOR": ("executor", "kind"),
    "ECOM_CELERY_BROKER_URL": ("executor", "broker"),
    "ECOM_CELERY_BACKEND_URL": ("executor", "backend"),
    # the sensors' pace is not a resource's either: it shows as each sensor's interval (checked below)
    "ECOM_SENSOR_INTERVAL_SCALE": ("sensors", "minimum_interval_seconds"),
    "ECOM_STEP_RETRIES": ("healing", "step_retries"),
    "ECOM_HEAL_WINDOW": ("healing", "window_hours"),
    "ECOM_HEAL_FIRST_DELAY": ("healing", "first_delay_minutes"),
    "ECOM_DM_DEADLINE": ("freshness", "deadline"),
    "ECOM_DM_DEADLINE_TZ": ("freshness", "deadline_timezone"),
}

def shown_by_ui(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """What the webserver shows on Deployment → Resources for a code location loaded with `env` (and none of
    the project's other variables): the repository snapshot it reads, built as the code server builds it."""
    newcomer(monkeypatch, **env)
    snap = RepositorySnap.from_def(build_defs(resources_from_env(), executor_from_env()).get_repository_def())
    shown = {}
    for resource in snap.resources:
        fields = {f.name: f.description or "" for f in resource.config_field_snaps}
        # the UI shows a field's configured value, else the field's default
        values = {f.name: json.loads(f.default_value_as_json_str) for f in resource.config_field_snaps
                  if f.default_provided and f.default_value_as_json_str is not None}
        values.update({k: ({"env": v.name} if hasattr(v, "name") else json.loads(v))
                       for k, v in resource.configured_values.items()})
        shown[resource.name] = {"fields": fields, "values": values}
    return json.loads(json.dumps(shown))


def test_the_mapping_covers_every_setting() -> None:
    assert set(FIELD_OF) == {s.variable for s in SETTINGS}


def test_every_field_of_every_resource_is_shown_with_a_description(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = shown_by_ui(monkeypatch)
    assert set(shown) >= {"catalog_api", "lake", "warehouse", "duckdb", "warehouse_io_manager", "alert_webhook",
                          "freshness", "quality", "retention"}
    for name, resource in shown.items():
        for field, description in resource["fields"].items():
            assert field in resource["values"], f"{name}.{field} is not shown"
            assert description.strip(), f"{name}.{field} has no description"


def test_values_in_effect_are_shown_and_secrets_only_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    env = dict(ECOM_API_BASE_URL="https://catalog.example", ECOM_API_SOURCE_NAME="the shop", ECOM_API_PAGE_SIZE="7",
                    ECOM_API_MAX_RECORDS="1000", ECOM_S3_BUCKET="my-lake", ECOM_S3_ENDPOINT_URL="http://minio:9000",
                    AWS_REGION="eu-west-1", ECOM_MAX_REJECTED_SHARE="0.2", ECOM_MAX_CATALOG_SHRINK="0.75",
                    ECOM_DM_DEADLINE="07:30", ECOM_DM_DEADLINE_TZ="UTC", ECOM_API_CONCURRENCY="4",
                    ECOM_ODS_RETENTION_DAYS="30", ECOM_DUCKDB_MEMORY_LIMIT="2GB", ECOM_STEP_RETRIES="2",
                    ECOM_HEAL_WINDOW="1.5", ECOM_HEAL_FIRST_DELAY="0.5",
                    ECOM_PG_DSN="postgresql://pipeline:hunter2@db/warehouse",
                    ECOM_ALERT_WEBHOOK_URL="https://hooks.example/T0/secret-token",
                    ECOM_PII_KEY="pii-key-secret-value-0123456789abcdef")
    shown = shown_by_ui(monkeypatch, **env)
    for setting in SETTINGS:
        resource, field = FIELD_OF[setting.variable]
        if resource in ("executor", "sensors"):
            continue
        value = shown[resource]["values"][field]
        if setting.secret:
            assert value == {"env": setting.variable}
        else:
            assert str(value) == env[setting.variable], (setting.variable, value)
        assert f"${setting.variable}" in shown[resource]["fields"][field] or setting.variable in shown[resource]["fields"][field]
    assert "hunter2" not in json.dumps(shown) and "secret-token" not in json.dumps(shown)
    assert "pii-key-secret-value" not in json.dumps(shown)


def test_unset_settings_show_their_documented_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = shown_by_ui(monkeypatch)
    for setting in SETTINGS:
        resource, field = FIELD_OF[setting.variable]
        if resource in ("executor", "sensors"):
            continue
        value = shown[resource]["values"].get(field)
        if setting.secret:
            expected: Any = {"env": setting.variable} if setting.variable == "ECOM_PG_DSN" else None
            assert value == expected, (setting.variable, value)
        else:
            assert str(value if value is not None else "") == setting.default, (setting.variable, value)


def intervals(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, int]:
    newcomer(monkeypatch, **env)
    defs = build_defs(resources_from_env(), executor_from_env(), sensor_pace_from_env())
    return {s.name: s.minimum_interval_seconds or 0 for s in defs.sensors or []}


def test_the_sensor_pace_scales_every_interval_down_to_the_daemons_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"ecommerce_automation_sensor": 15, "raw_snapshot_s3_sensor": 60, "run_failure_alert_sensor": 30,
            "product_changes_gap_sensor": 30, "freshness_checks_sensor": 600, "heal_sensor": 30,
            "dead_run_sensor": 60}
    assert intervals(monkeypatch) == base
    assert intervals(monkeypatch, ECOM_SENSOR_INTERVAL_SCALE="2") == {name: 2 * s for name, s in base.items()}
    assert intervals(monkeypatch, ECOM_SENSOR_INTERVAL_SCALE="0.1") == {name: max(5, round(s / 10))
                                                                       for name, s in base.items()}
    for wrong in ("0", "-1", "fast"):
        newcomer(monkeypatch, ECOM_SENSOR_INTERVAL_SCALE=wrong)
        with pytest.raises(SettingError, match="ECOM_SENSOR_INTERVAL_SCALE"):
            sensor_pace_from_env()


def test_a_malformed_setting_stops_the_load_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    newcomer(monkeypatch, ECOM_API_PAGE_SIZE="ten")
    with pytest.raises(SettingError, match=re.escape("ECOM_API_PAGE_SIZE='ten' is not a whole number (default 100)")):
        resources_from_env()  # what `defs = build_defs(resources_from_env(), …)` runs when the code server loads
    with pytest.raises(SettingError):
        integer("ECOM_DM_DEADLINE")  # "09:00"


def test_every_setting_is_documented_in_env_example_and_readme() -> None:
    example = (REPO_ROOT / ".env.example").read_text()
    table = (REPO_ROOT / "docs" / "configuration.md").read_text()
    for setting in SETTINGS:
        assert re.search(rf"^#?\s*{setting.variable}=", example, re.M), f"{setting.variable} missing in .env.example"
        row = next((line for line in table.splitlines() if f"`{setting.variable}`" in line), None)
        assert row is not None, f"{setting.variable} missing in the configuration table (docs/configuration.md)"
        if setting.default:
            assert setting.default in row.replace(",", "").replace("`", "") or \
                f"{int(setting.default):,}".replace(",", "") in row.replace(",", ""), (setting.variable, row)


LAYERS_WITHOUT_ENVIRONMENT = ("defs", "snapshots", "lake", "warehouse", "resources", "io_managers", "transforms",
                              "checks.py", "sensors.py", "automation.py", "schedules.py", "definitions.py")


@pytest.mark.parametrize("part", LAYERS_WITHOUT_ENVIRONMENT)
def test_nothing_but_settings_reads_the_environment(part: str) -> None:
    root = REPO_ROOT / "ecommerce_assets" / part
    for path in [root] if root.is_file() else sorted(Path(root).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                pytest.fail(f"{path.relative_to(REPO_ROOT)}:{node.lineno} reads the environment")


def test_the_catalog_client_reads_proxies_and_netrc_from_the_environment_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment a request would have consulted on every call — proxies, NO_PROXY, ~/.netrc, a CA bundle
    — is read when a thread's session is made, for the API's host."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine shop.example login reader password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "bundle.pem"))

    def session(base_url: str) -> Any:
        return CatalogClient(ClientSettings(base_url=base_url, page_size=10, timeout_seconds=1, max_retries=0,
                                            backoff_factor=0, max_response_bytes=1000, max_records=10)).session

    proxied = session("https://shop.example/api")
    assert proxied.proxies.get("https") == "http://proxy.example:3128"
    assert proxied.auth == ("reader", "s3cret")
    assert proxied.verify == str(tmp_path / "bundle.pem")
    assert session("http://shop.example/api").verify is True  # no certificate to verify
    monkeypatch.setenv("NO_PROXY", "shop.example")
    assert "https" not in session("https://shop.example/api").proxies
    assert session("https://other.example").auth is None


class _RecordingShop(QuietHandler):
    """Three products, one a page; records what each request sent and sets a cookie on every answer."""

    seen: list[dict[str, str | None]]

    def do_GET(self) -> None:
        skip = int(parse_qs(urlsplit(self.path).query)["skip"][0])
        self.seen.append({name: self.headers.get(name) for name in ("Accept", "Authorization", "Cookie")})
        self.reply_json({"products": [{"id": skip + 1}], "total": 3}, headers={"Set-Cookie": f"visit={skip + 1}; Path=/"})


@pytest.fixture
def recording_shop() -> Iterator[tuple[str, list[dict[str, str | None]]]]:
    seen: list[dict[str, str | None]] = []
    with serving(type("Shop", (_RecordingShop,), {"seen": seen})) as url:
        yield url, seen


def test_every_page_sends_the_sessions_headers_credentials_and_cookies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recording_shop: tuple[str, list[dict[str, str | None]]]) -> None:
    """A page's request is copied from one prepared with the thread's session (Session.request's merging of the
    session's settings into every request cost the fetching threads' GIL), and still sends what Session.request
    sent: the session's Accept header, the ~/.netrc credentials of the API's host, the cookies earlier answers set."""
    base_url, seen = recording_shop
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login reader password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = CatalogClient(ClientSettings(base_url=base_url, page_size=1, timeout_seconds=5, max_retries=0,
                                          backoff_factor=0, max_response_bytes=1000, max_records=10))
    con = duckdb.connect()
    pages = list(client.iter_pages("products", new_parser=lambda: page_parser(con.cursor())))
    client.close()

    assert [page.records.column("record_id").to_pylist() for page in pages] == [[1], [2], [3]]
    credentials = "Basic " + base64.b64encode(b"reader:s3cret").decode()
    assert seen == [
        {"Accept": "application/json", "Authorization": credentials, "Cookie": None},
        {"Accept": "application/json", "Authorization": credentials, "Cookie": "visit=1"},
        {"Accept": "application/json", "Authorization": credentials, "Cookie": "visit=2"},
    ]
