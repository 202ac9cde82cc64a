"""Shared test helpers: resources wired to the test's services, and reading results back."""

import os
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
import requests
from dagster import AssetsDefinition, DagsterInstance, ExecuteInProcessResult, materialize
from dagster_duckdb import DuckDBResource

from ecommerce_assets.assets import dm_fct_ecommerce, dm_fct_product_changes, ods_fct_products, raw_products_parquet
from ecommerce_assets.io_managers import PostgresTableIOManager, S3ParquetIOManager
from ecommerce_assets.resources import CatalogApiResource, PostgresResource, S3LakeResource
from ecommerce_assets.resources.quality_settings import QualitySettings
from ecommerce_assets.resources.retention import RetentionSettings

ALL_ASSETS: list[AssetsDefinition] = [raw_products_parquet, ods_fct_products, dm_fct_product_changes, dm_fct_ecommerce]


def make_resources(lake: S3LakeResource, pg_dsn: str, api_url: str, page_size: int = 40,
                   max_rejected_share: float = 1.0, ods_retention_days: int = 0, **api: Any) -> dict[str, Any]:
    """Resources on the test's services. The awkward test catalogs reject about a third of their records on
    purpose, so the rejected-share gate is opened unless a test sets it (the gate's own tests do)."""
    postgres = PostgresResource(dsn=pg_dsn)
    return {
        "catalog_api": CatalogApiResource(base_url=api_url, page_size=page_size, backoff_factor=0.01, **api),
        "lake": lake,
        "postgres": postgres,
        "duckdb": DuckDBResource(database=":memory:"),
        "s3_parquet_io_manager": S3ParquetIOManager(lake=lake),
        "postgres_io_manager": PostgresTableIOManager(postgres=postgres),
        "quality": QualitySettings(max_rejected_share=max_rejected_share),
        "retention": RetentionSettings(ods_days=ods_retention_days),
    }


def run_partition(resources: Mapping[str, Any], partition: str, *, refetch: bool = False,
                  assets: list[AssetsDefinition] | None = None, raise_on_error: bool = True,
                  instance: DagsterInstance | None = None) -> ExecuteInProcessResult:
    selected = assets or ALL_ASSETS
    config: dict[str, Any] = {}
    if raw_products_parquet in selected:
        config = {"ops": {"raw_products_parquet": {"config": {"refetch": refetch, "allow_late_fetch": True}}}}
    return materialize(ALL_ASSETS, selection=selected, partition_key=partition, resources=dict(resources),
                       run_config=config, raise_on_error=raise_on_error, instance=instance)


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
