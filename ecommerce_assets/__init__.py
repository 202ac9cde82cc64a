"""E-commerce data platform on Dagster: catalog API -> S3 Parquet -> PostgreSQL ODS -> category mart."""

from ecommerce_assets.definitions import defs

__all__ = ["defs"]
