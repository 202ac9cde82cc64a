"""The sales domain's named jobs: one per layer, and raw -> ODS for a day (the marts follow by automation)."""

from dagster import AssetSelection, define_asset_job

from ecommerce_assets.defs.sales.keys import (
    CART_LINES,
    CUSTOMERS,
    CUSTOMERS_DAILY,
    ORDERS,
    RAW_CARTS,
    RAW_USERS,
    REJECTED_CARTS,
    REJECTED_USERS,
    SALES,
)

RAW = AssetSelection.assets(RAW_CARTS, RAW_USERS)
ODS = AssetSelection.assets(CART_LINES, REJECTED_CARTS, CUSTOMERS, REJECTED_USERS)
MARTS = AssetSelection.assets(ORDERS, SALES, CUSTOMERS_DAILY)

raw_sales_job = define_asset_job("raw_sales_job", selection=RAW,
                                 description="Fetch the day's carts and users (users reduced) into the lake.")
ods_sales_job = define_asset_job("ods_sales_job", selection=ODS,
                                 description="Load the day's carts and users into the ODS (rejected ones apart).")
sales_daily_job = define_asset_job("sales_daily_job", selection=RAW | ODS,
                                   description="raw -> ODS of carts and users for one day.")
sales_marts_job = define_asset_job("sales_marts_job", selection=MARTS,
                                   description="Bring orders, sales and customers in line with what is stored.")

SALES_JOBS = [raw_sales_job, ods_sales_job, sales_daily_job, sales_marts_job]
