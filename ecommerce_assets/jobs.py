"""Named asset jobs: one per layer and one for the whole chain (public names for Airflow and the CLI)."""

from dagster import AssetSelection, define_asset_job

from ecommerce_assets.partitions import daily_partitions

raw_products_job = define_asset_job(
    "raw_products_job", selection=AssetSelection.assets("raw_products_parquet"), partitions_def=daily_partitions,
    description="Fetch the catalog and store the day's raw snapshot.",
)
ods_products_job = define_asset_job(
    "ods_products_job", selection=AssetSelection.assets("ods_fct_products"), partitions_def=daily_partitions,
    description="Load the day's raw snapshot into ods.fct_products.",
)
dm_ecommerce_job = define_asset_job(
    "dm_ecommerce_job", selection=AssetSelection.assets("dm_fct_ecommerce"), partitions_def=daily_partitions,
    description="Build the day's rows of dm.fct_ecommerce.",
)
ecommerce_daily_job = define_asset_job(
    "ecommerce_daily_job",
    selection=AssetSelection.assets("raw_products_parquet", "ods_fct_products", "dm_fct_ecommerce"),
    partitions_def=daily_partitions,
    description="raw -> ods -> dm for one day.",
)

ALL_JOBS = [raw_products_job, ods_products_job, dm_ecommerce_job, ecommerce_daily_job]
