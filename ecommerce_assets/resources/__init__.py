"""Dagster resources: the catalog API, the S3 lake and the PostgreSQL warehouse."""

from ecommerce_assets.resources.catalog_api import CatalogApiResource, CatalogFetchError
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets.resources.postgres import PostgresResource

__all__ = ["CatalogApiResource", "CatalogFetchError", "PostgresResource", "S3LakeResource"]
