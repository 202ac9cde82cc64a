"""The layers: raw (S3 Parquet), ods (PostgreSQL), dm (PostgreSQL: the mart, the changes, the history)."""

from ecommerce_assets.assets.dm import dm_fct_ecommerce
from ecommerce_assets.assets.history import dm_dim_product_history, dm_fct_product_changes
from ecommerce_assets.assets.ods import ods_fct_products
from ecommerce_assets.assets.raw import raw_products_parquet

__all__ = ["dm_dim_product_history", "dm_fct_ecommerce", "dm_fct_product_changes", "ods_fct_products",
           "raw_products_parquet"]
