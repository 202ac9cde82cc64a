"""E-commerce data platform on Dagster: catalog API -> S3 Parquet -> PostgreSQL ODS -> category mart.

The code location is the module `ecommerce_assets.definitions` (location name `ecommerce_assets`); importing
this package builds nothing.
"""
