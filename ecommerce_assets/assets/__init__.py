"""The three layers: raw (S3 Parquet), ods (PostgreSQL), dm (PostgreSQL mart)."""

from ecommerce_assets.assets.dm import dm_fct_ecommerce
from ecommerce_assets.assets.ods import ods_fct_products
from ecommerce_assets.assets.raw import raw_products_parquet

__all__ = ["dm_fct_ecommerce", "ods_fct_products", "raw_products_parquet"]
