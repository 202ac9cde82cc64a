"""The asset keys and tables of the sales domain, defined once."""

from dagster import AssetKey

RAW_CARTS = AssetKey("raw_carts_parquet")
RAW_USERS = AssetKey("raw_users_parquet")
CART_LINES = AssetKey("ods_fct_cart_lines")
REJECTED_CARTS = AssetKey("ods_rejected_carts")
CUSTOMERS = AssetKey("ods_dim_customers")
REJECTED_USERS = AssetKey("ods_rejected_users")
ORDERS = AssetKey("dm_fct_orders")
SALES = AssetKey("dm_fct_sales")
CUSTOMERS_DAILY = AssetKey("dm_fct_customers_daily")

CART_LINES_TABLE, REJECTED_CARTS_TABLE = "ods.fct_cart_lines", "ods.rejected_carts"
CUSTOMERS_TABLE, REJECTED_USERS_TABLE = "ods.dim_customers", "ods.rejected_users"
ORDERS_TABLE, SALES_TABLE, CUSTOMERS_DAILY_TABLE = "dm.fct_orders", "dm.fct_sales", "dm.fct_customers_daily"
