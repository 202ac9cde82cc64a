"""The resources as this environment configures them (see settings.py): what the code location, the
deployment steps and the local runner use. `resources_from_env()` gives every resource the definitions take."""

from typing import Any

from ecommerce_assets.io_managers import WarehouseDayIOManager, lake_snapshot_input
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.pace import SensorPace
from ecommerce_assets.resources.alerts import AlertWebhookResource
from ecommerce_assets.resources.catalog_api import CatalogApiResource
from ecommerce_assets.resources.duckdb_engine import DuckDBEngine
from ecommerce_assets.resources.pii import PiiKeyResource
from ecommerce_assets.resources.quality_settings import FreshnessSettings, HealingSettings, QualitySettings
from ecommerce_assets.resources.retention import RetentionSettings
from ecommerce_assets.settings import SettingError, integer, number, optional_secret, optional_text, secret, text
from ecommerce_assets.warehouse import WarehouseResource


def lake_from_env(**given: Any) -> LakeResource:
    """The lake as the environment configures it; `given` fields instead (the local runner's own services)."""
    return LakeResource(**{"bucket": text("ECOM_S3_BUCKET"), "endpoint_url": optional_text("ECOM_S3_ENDPOINT_URL"),
                           "region_name": text("AWS_REGION"), **given})


def catalog_api_from_env(**given: Any) -> CatalogApiResource:
    """The shop API as the environment configures it; `given` fields instead (the local runner's simulator)."""
    return CatalogApiResource(**{"base_url": text("ECOM_API_BASE_URL"), "source_name": optional_text("ECOM_API_SOURCE_NAME"),
                                 "page_size": integer("ECOM_API_PAGE_SIZE"), "max_records": integer("ECOM_API_MAX_RECORDS"),
                                 "concurrency": integer("ECOM_API_CONCURRENCY"), **given})


def duckdb_from_env() -> DuckDBEngine:
    return DuckDBEngine(database=":memory:", memory_limit=text("ECOM_DUCKDB_MEMORY_LIMIT"))


def warehouse_from_env() -> WarehouseResource:
    return WarehouseResource(dsn=secret("ECOM_PG_DSN"))


def alert_webhook_from_env() -> AlertWebhookResource:
    return AlertWebhookResource(url=optional_secret("ECOM_ALERT_WEBHOOK_URL"))


def pii_from_env() -> PiiKeyResource:
    return PiiKeyResource(key=optional_secret("ECOM_PII_KEY"))


def quality_from_env() -> QualitySettings:
    return QualitySettings(max_rejected_share=number("ECOM_MAX_REJECTED_SHARE"),
                           max_catalog_shrink=number("ECOM_MAX_CATALOG_SHRINK"))


def healing_from_env() -> HealingSettings:
    return HealingSettings(step_retries=integer("ECOM_STEP_RETRIES"), window_hours=number("ECOM_HEAL_WINDOW"),
                           first_delay_minutes=number("ECOM_HEAL_FIRST_DELAY"))


def sensor_pace_from_env() -> SensorPace:
    scale = number("ECOM_SENSOR_INTERVAL_SCALE")
    try:
        return SensorPace(scale)  # the one check of a scale
    except ValueError as error:
        raise SettingError(f"ECOM_SENSOR_INTERVAL_SCALE={scale:g}: {error} (default 1.0)") from None


def retention_from_env() -> RetentionSettings:
    return RetentionSettings(ods_days=integer("ECOM_ODS_RETENTION_DAYS"))


def freshness_from_env() -> FreshnessSettings:
    return FreshnessSettings(deadline=text("ECOM_DM_DEADLINE"), deadline_timezone=text("ECOM_DM_DEADLINE_TZ"))


def resources_from_env() -> dict[str, Any]:
    """Every resource of the definitions, each setting explicit (settings.py: the environment, else the
    documented default; secrets as EnvVar), so the UI's Deployment → Resources page shows the configuration in
    effect."""
    lake = lake_from_env()
    warehouse = warehouse_from_env()
    return {
        "catalog_api": catalog_api_from_env(),
        "lake": lake,
        "warehouse": warehouse,
        "duckdb": duckdb_from_env(),
        "lake_snapshot_input": lake_snapshot_input,
        "warehouse_io_manager": WarehouseDayIOManager(warehouse=warehouse),
        "alert_webhook": alert_webhook_from_env(),
        "pii": pii_from_env(),
        "freshness": freshness_from_env(),
        "quality": quality_from_env(),
        "retention": retention_from_env(),
        "healing": healing_from_env(),
    }
