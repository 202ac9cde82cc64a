"""The product domain's named jobs: one per layer and one for the whole chain (public names for Airflow and
the CLI). Each carries its assets' own checks — and the jobs that build what follows the ODS carry the ODS
gates too, so a run of the mart alone is held to them — never the freshness checks, which their sensor runs."""

from dagster import AssetSelection, define_asset_job

from ecommerce_assets.defs.products.checks import ODS_GATES, dm_fct_ecommerce__reconciles_with_ods
from ecommerce_assets.defs.products.keys import CHANGES, HISTORY, MART, ODS, RAW, REJECTED
from ecommerce_assets.defs.products.snapshot import raw_products_checks

RAW_ASSETS = AssetSelection.assets(RAW).without_checks() | AssetSelection.checks(*raw_products_checks)
ODS_ASSETS = AssetSelection.assets(ODS, REJECTED)  # with every ODS check (the gates, the drift warning)
DM_ASSETS = AssetSelection.assets(CHANGES, MART).without_checks() | AssetSelection.checks(
    *ODS_GATES, dm_fct_ecommerce__reconciles_with_ods)

raw_products_job = define_asset_job(
    "raw_products_job", selection=RAW_ASSETS,
    description="Fetch the catalog and store the day's raw snapshot.",
)
ods_products_job = define_asset_job(
    "ods_products_job", selection=ODS_ASSETS,
    description="Load the day's raw snapshot into ods.fct_products (rejected records into ods.rejected_products).",
)
dm_ecommerce_job = define_asset_job(
    "dm_ecommerce_job", selection=DM_ASSETS,
    description="Derive the day's changes (dm.fct_product_changes) and build its rows of dm.fct_ecommerce, once "
                "the ODS gates of the day hold.",
)
ecommerce_daily_job = define_asset_job(
    "ecommerce_daily_job", selection=RAW_ASSETS | ODS_ASSETS | DM_ASSETS,
    description="raw -> ods -> changes -> mart for one day.",
)
warehouse_job = define_asset_job(
    "warehouse_job", selection=ODS_ASSETS | DM_ASSETS,
    description="Re-derive ODS, changes and mart from the stored raw snapshots: one day, or a range of days "
                "in one run (tags dagster/asset_partition_range_start / _end), as batched backfills do.",
)
product_history_job = define_asset_job(
    "product_history_job", selection=AssetSelection.assets(HISTORY),
    description="Bring dm.dim_product_history in line with the ODS snapshots loaded.",
)

PRODUCT_JOBS = [raw_products_job, ods_products_job, dm_ecommerce_job, ecommerce_daily_job, warehouse_job,
                product_history_job]
