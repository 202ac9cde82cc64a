"""The sales domain: what the shop sells — carts and users as daily snapshots (users reduced: no personal
field is ever stored), their ODS, and the orders, sales by category and customers marts, joined to the
product history of the product domain (its public surface only)."""

from dagster import Definitions

from ecommerce_assets.defs.sales.checks import SALES_CHECKS
from ecommerce_assets.defs.sales.jobs import SALES_JOBS, raw_sales_job
from ecommerce_assets.defs.sales.keys import CUSTOMERS_DAILY, ORDERS, SALES
from ecommerce_assets.defs.sales.marts import dm_fct_customers_daily, dm_fct_orders, dm_fct_sales
from ecommerce_assets.defs.sales.ods import ods_carts, ods_customers
from ecommerce_assets.defs.sales.snapshots import (
    CARTS,
    USERS,
    raw_carts_checks,
    raw_carts_parquet,
    raw_users_checks,
    raw_users_parquet,
)
from ecommerce_assets.pace import DEFAULT_PACE, SensorPace
from ecommerce_assets.schedules import daily_snapshot_schedule

ENDPOINTS = [CARTS, USERS]
FOLLOW_UP_SENSORS: list[str] = []
MARTS = [ORDERS, SALES, CUSTOMERS_DAILY]


def definitions(pace: SensorPace = DEFAULT_PACE) -> Definitions:
    """Everything the sales domain registers (its sensors, when it has some, at `pace`)."""
    return Definitions(
        assets=[raw_carts_parquet, raw_users_parquet, ods_carts, ods_customers, dm_fct_orders, dm_fct_sales,
                dm_fct_customers_daily],
        asset_checks=[*raw_carts_checks, *raw_users_checks, *SALES_CHECKS],
        jobs=SALES_JOBS,
        schedules=[daily_snapshot_schedule("raw_sales_daily_schedule", raw_sales_job, "the carts and users")],
    )
