"""The product domain: the catalog's daily snapshot (raw), its typed ODS and the records the rules rejected,
what changed each day and the history of every product, and the per-category mart for BI."""

from dagster import Definitions

from ecommerce_assets.defs.products.checks import PRODUCT_CHECKS
from ecommerce_assets.defs.products.history import dm_dim_product_history, dm_fct_product_changes
from ecommerce_assets.defs.products.jobs import PRODUCT_JOBS, raw_products_job
from ecommerce_assets.defs.products.keys import HISTORY, HISTORY_TABLE, MART
from ecommerce_assets.defs.products.mart import dm_fct_ecommerce
from ecommerce_assets.defs.products.ods import ods_products
from ecommerce_assets.defs.products.retention import ods_retention_job, ods_retention_schedule
from ecommerce_assets.defs.products.sensors import GAP_SENSOR, product_changes_gap_sensor
from ecommerce_assets.defs.products.snapshot import PRODUCTS, raw_products_checks, raw_products_parquet
from ecommerce_assets.pace import DEFAULT_PACE, SensorPace
from ecommerce_assets.schedules import daily_snapshot_schedule

ENDPOINTS = [PRODUCTS]
# what other domains may use: the product history (the sales mart's categories as of each order date)
__all__ = ["ENDPOINTS", "FOLLOW_UP_SENSORS", "HISTORY", "HISTORY_TABLE", "MART", "definitions"]
# sensors that request what the partition mappings cannot see (the local runner asks them after its runs)
FOLLOW_UP_SENSORS = [GAP_SENSOR]


def definitions(pace: SensorPace = DEFAULT_PACE) -> Definitions:
    """Everything the product domain registers (resources come from the code location's definitions), its
    sensors at `pace`."""
    return Definitions(
        assets=[raw_products_parquet, ods_products, dm_fct_product_changes, dm_fct_ecommerce, dm_dim_product_history],
        asset_checks=[*raw_products_checks, *PRODUCT_CHECKS],
        jobs=[*PRODUCT_JOBS, ods_retention_job],
        schedules=[daily_snapshot_schedule("raw_products_daily_schedule", raw_products_job, "the catalog"),
                   ods_retention_schedule],
        sensors=[product_changes_gap_sensor(pace)],
    )
