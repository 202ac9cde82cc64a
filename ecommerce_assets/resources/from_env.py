"""The resources as this environment configures them (see settings.py): what the code location, the
deployment steps and the local runner use."""

from ecommerce_assets.resources.alerts import AlertWebhookResource
from ecommerce_assets.resources.catalog_api import CatalogApiResource
from ecommerce_assets.resources.duckdb_engine import DuckDBEngine
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets.resources.postgres import PostgresResource
from ecommerce_assets.resources.quality_settings import FreshnessSettings, QualitySettings
from ecommerce_assets.resources.retention import RetentionSettings
from ecommerce_assets.settings import integer, number, optional_secret, optional_text, secret, text


def lake_from_env() -> S3LakeResource:
    return S3LakeResource(bucket=text("ECOM_S3_BUCKET"), endpoint_url=optional_text("ECOM_S3_ENDPOINT_URL"),
                          region=text("AWS_REGION"))


def catalog_api_from_env() -> CatalogApiResource:
    return CatalogApiResource(base_url=text("ECOM_API_BASE_URL"), page_size=integer("ECOM_API_PAGE_SIZE"),
                              max_records=integer("ECOM_API_MAX_RECORDS"), concurrency=integer("ECOM_API_CONCURRENCY"))


def duckdb_from_env() -> DuckDBEngine:
    return DuckDBEngine(database=":memory:", memory_limit=text("ECOM_DUCKDB_MEMORY_LIMIT"))


def postgres_from_env() -> PostgresResource:
    return PostgresResource(dsn=secret("ECOM_PG_DSN"))


def alert_webhook_from_env() -> AlertWebhookResource:
    return AlertWebhookResource(url=optional_secret("ECOM_ALERT_WEBHOOK_URL"))


def quality_from_env() -> QualitySettings:
    return QualitySettings(max_rejected_share=number("ECOM_MAX_REJECTED_SHARE"),
                           max_catalog_shrink=number("ECOM_MAX_CATALOG_SHRINK"))


def retention_from_env() -> RetentionSettings:
    return RetentionSettings(ods_days=integer("ECOM_ODS_RETENTION_DAYS"))


def freshness_from_env() -> FreshnessSettings:
    return FreshnessSettings(deadline=text("ECOM_DM_DEADLINE"), deadline_timezone=text("ECOM_DM_DEADLINE_TZ"))
