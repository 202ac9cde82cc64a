"""The asset keys of the product domain, defined once: every reference to them (lineage, jobs, sensors,
checks, the local runner) imports them from here."""

from dagster import AssetKey

RAW = AssetKey("raw_products_parquet")
ODS = AssetKey("ods_fct_products")
REJECTED = AssetKey("ods_rejected_products")
CHANGES = AssetKey("dm_fct_product_changes")
HISTORY = AssetKey("dm_dim_product_history")
MART = AssetKey("dm_fct_ecommerce")

# Their tables (an asset is named after its table) and the column each table's day lives in.
ODS_TABLE, REJECTED_TABLE = "ods.fct_products", "ods.rejected_products"
CHANGES_TABLE, MART_TABLE = "dm.fct_product_changes", "dm.fct_ecommerce"
HISTORY_TABLE = "dm.dim_product_history"  # a view over the intervals (current and ended)
