"""Dagster resources besides the lake's and the warehouse's own: the shop API, DuckDB, alerts and the
settings of the gates, the freshness deadline and retention."""

from ecommerce_assets.resources.catalog_api import CatalogApiResource, CatalogFetchError

__all__ = ["CatalogApiResource", "CatalogFetchError"]
