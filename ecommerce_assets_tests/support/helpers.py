"""Shared test helpers: resources wired to the test's services, running the product chain, and reading
results back."""

import os
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
import yaml
from dagster import AssetKey, AssetsDefinition, AssetSelection, DagsterInstance, ExecuteInProcessResult, materialize
from dagster_duckdb import DuckDBResource

from ecommerce_assets.defs import products
from ecommerce_assets.defs.products.keys import CHANGES, MART, ODS, RAW, REJECTED
from ecommerce_assets.io_managers import WarehouseDayIOManager, lake_snapshot_input
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.resources import CatalogApiResource
from ecommerce_assets.resources.alerts import AlertWebhookResource
from ecommerce_assets.resources.pii import PiiKeyResource
from ecommerce_assets.resources.quality_settings import FreshnessSettings, HealingSettings, QualitySettings
from ecommerce_assets.resources.retention import RetentionSettings
from ecommerce_assets.warehouse import WarehouseResource

REPO_ROOT = Path(__file__).resolve().parents[2]
# dummyjson.com's complete answers for /products, /carts and /users (MIT; see its README): the real service's data
REAL_SERVICE = REPO_ROOT / "ecommerce_assets_tests" / "data" / "dummyjson"
TEST_PII_KEY = "test-only customer key secret, 32+ characters long"  # tests compute customer keys with it
PRODUCT_DEFS = products.definitions()
# every asset and check of the product domain (what `materialize` picks its selection from)
EVERYTHING: list[AssetsDefinition] = [*PRODUCT_DEFS.assets, *PRODUCT_DEFS.asset_checks]  # type: ignore[list-item]
CHAIN = (RAW, ODS, REJECTED, CHANGES, MART)  # raw -> ods -> changes -> mart, as ecommerce_daily_job


def make_resources(lake: LakeResource, pg_dsn: str, api_url: str, page_size: int = 40,
                   max_rejected_share: float = 1.0, ods_retention_days: int = 0, **api: Any) -> dict[str, Any]:
    """Resources on the test's services. The awkward test catalogs reject about a third of their records on
    purpose, so the rejected-share gate is opened unless a test sets it (the gate's own tests do)."""
    warehouse = WarehouseResource(dsn=pg_dsn)
    return {
        "catalog_api": CatalogApiResource(base_url=api_url, page_size=page_size, backoff_factor=0.01, **api),
        "lake": lake,
        "warehouse": warehouse,
        "duckdb": DuckDBResource(database=":memory:"),
        "lake_snapshot_input": lake_snapshot_input,
        "warehouse_io_manager": WarehouseDayIOManager(warehouse=warehouse),
        "quality": QualitySettings(max_rejected_share=max_rejected_share),
        "retention": RetentionSettings(ods_days=ods_retention_days),
        "alert_webhook": AlertWebhookResource(),
        "freshness": FreshnessSettings(),
        "pii": PiiKeyResource(key=TEST_PII_KEY),
        "healing": HealingSettings(),
    }


def selection(keys: Sequence[AssetKey]) -> AssetSelection:
    """The assets `keys` with their checks (the gates of the ODS go with what follows it, as in the jobs)."""
    keys = [*keys, REJECTED] if ODS in keys and REJECTED not in keys else list(keys)  # one run of the rules
    chosen = AssetSelection.assets(*keys)
    if {CHANGES, MART} & set(keys) and ODS not in keys:
        chosen = chosen | AssetSelection.checks_for_assets(ODS)
    return chosen


def run_partition(resources: Mapping[str, Any], partition: str, *, refetch: bool = False,
                  assets: Sequence[AssetKey] = CHAIN, raise_on_error: bool = True,
                  instance: DagsterInstance | None = None, run_config: Mapping[str, Any] | None = None,
                  tags: Mapping[str, str] | None = None) -> ExecuteInProcessResult:
    """Materialize `assets` (the whole chain by default) of one day, with their checks."""
    config: dict[str, Any] = {"ops": {}}
    if RAW in assets:
        config["ops"]["raw_products_parquet"] = {"config": {"refetch": refetch, "allow_late_fetch": True}}
    for op, given in (run_config or {}).get("ops", {}).items():
        config["ops"][op] = given  # a test's own config of an op replaces the default above
    return materialize(EVERYTHING, selection=selection(assets), partition_key=partition, resources=dict(resources),
                       run_config=config, raise_on_error=raise_on_error, instance=instance, tags=tags)


def fetch_all(api_url: str, page_size: int = 1000) -> list[Any]:
    """The whole catalog straight from the API, in order, independently of the pipeline."""
    records: list[Any] = []
    while True:
        body = requests.get(f"{api_url}/products", params={"limit": page_size, "skip": len(records)}, timeout=10).json()
        records.extend(body["products"])
        if len(records) >= body["total"]:
            return records


def query(dsn: str, statement: str, params: Mapping[str, Any] | tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(statement, params).fetchall()


def _number(value: Any) -> Decimal | None:
    """The rules' reading of a numeric field: None for null/empty, Decimal for numbers and numeric strings,
    raises ValueError for anything else."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("boolean")
    if isinstance(value, (int, float)):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        number = Decimal(text)  # raises on "12,50"
        if not number.is_finite():
            raise ValueError("not finite")
        return number
    raise ValueError(type(value).__name__)


def expected_ods(records: list[Any]) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """An independent reading of the ODS rules for the fields the mart uses.

    Returns accepted products by id (category, price, stock, rating) and rejected record positions with
    a coarse reason ("id" or "value")."""
    latest: dict[int, int] = {}
    rejected: dict[int, str] = {}
    for position, record in enumerate(records):
        pid = record.get("id") if isinstance(record, dict) else None
        if isinstance(pid, int) and not isinstance(pid, bool):
            latest[pid] = position
        else:
            rejected[position] = "id"
    accepted: dict[int, dict[str, Any]] = {}
    for pid, position in latest.items():
        record = records[position]
        try:
            price, stock, rating = (_number(record.get(f)) for f in ("price", "stock", "rating"))
            for other in ("discountPercentage", "weight", "minimumOrderQuantity"):
                _number(record.get(other))
        except (ValueError, ArithmeticError):
            rejected[position] = "value"
            continue
        if (price is not None and price < 0) or (stock is not None and (stock < 0 or stock != stock.to_integral_value())) \
                or (rating is not None and not 0 <= rating <= 5):
            rejected[position] = "value"
            continue
        category = record.get("category")
        category = category.strip() if isinstance(category, str) else ""
        accepted[pid] = {
            "category": category or "unknown",
            "price": None if price is None else price.quantize(Decimal("0.01"), ROUND_HALF_UP),
            "stock": None if stock is None else int(stock),
            "rating": None if rating is None else rating.quantize(Decimal("0.01"), ROUND_HALF_UP),
        }
    return accepted, rejected


def expected_mart(accepted: dict[int, dict[str, Any]]) -> list[tuple[str, int, int, Decimal | None, Decimal | None]]:
    """The mart computed in plain Python with Decimal, rounded half-up to the cent."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for product in accepted.values():
        groups.setdefault(product["category"], []).append(product)
    rows = []
    for category in sorted(groups):
        items = groups[category]
        prices = [p["price"] for p in items if p["price"] is not None]
        ratings = [p["rating"] for p in items if p["rating"] is not None]
        avg = lambda xs: (sum(xs) / len(xs)).quantize(Decimal("0.01"), ROUND_HALF_UP) if xs else None  # noqa: E731
        rows.append((category, len(items), sum(p["stock"] or 0 for p in items), avg(prices), avg(ratings)))
    return rows


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a newcomer: none of the project's variables, no AWS credentials or profile."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ECOM_", "DAGSTER_", "AWS_", "PG")) and k != "PYTHONWARNINGS"}
    env.update(AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_CONFIG_FILE="/nonexistent",
               ECOM_LOCAL_COMMAND="./scripts/run.sh", **extra)
    return env


def examples(full: int) -> int:
    """How many examples a property test draws: `full` in the whole suite, a fifth (at least 10) in the fast
    tier (`./scripts/test.sh --fast` sets ECOM_TEST_FAST=1), which answers in under a minute."""
    return max(10, full // 5) if os.environ.get("ECOM_TEST_FAST") == "1" else full


def newcomer(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """This process's environment made a newcomer's (clean_env), plus `env`, until the test ends."""
    for name in list(os.environ):
        if name.startswith(("ECOM_", "DAGSTER_", "AWS_", "PG")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def write_instance_yaml(home: Path, pg_dsn: str) -> None:
    """The repository's dagster.yaml, with the storage pointed at `pg_dsn` instead of $DAGSTER_PG_URL."""
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    config["storage"]["custom"]["config"]["postgres_url"] = pg_dsn
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


def materialization(result: ExecuteInProcessResult, key: AssetKey) -> Any:
    """The (one) materialization of `key` in a run's result."""
    (found,) = [event.materialization for event in result.get_asset_materialization_events()
                if event.materialization.asset_key == key]
    return found
