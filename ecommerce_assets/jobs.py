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
    "dm_ecommerce_job", selection=AssetSelection.assets("dm_fct_product_changes", "dm_fct_ecommerce"),
    partitions_def=daily_partitions,
    description="Derive the day's changes (dm.fct_product_changes) and build its rows of dm.fct_ecommerce.",
)
ecommerce_daily_job = define_asset_job(
    "ecommerce_daily_job",
    selection=AssetSelection.assets("raw_products_parquet", "ods_fct_products", "dm_fct_product_changes",
                                    "dm_fct_ecommerce"),
    partitions_def=daily_partitions,
    description="raw -> ods -> changes -> mart for one day.",
)
warehouse_job = define_asset_job(
    "warehouse_job",
    selection=AssetSelection.assets("ods_fct_products", "dm_fct_product_changes", "dm_fct_ecommerce"),
    partitions_def=daily_partitions,
    description="Re-derive ODS, changes and mart from the stored raw snapshots: one day, or a range of days "
                "in one run (tags dagster/asset_partition_range_start / _end), as batched backfills do.",
)
product_history_job = define_asset_job(
    "product_history_job", selection=AssetSelection.assets("dm_dim_product_history"),
    description="Bring dm.dim_product_history in line with the ODS snapshots loaded.",
)

ALL_JOBS = [raw_products_job, ods_products_job, dm_ecommerce_job, ecommerce_daily_job, warehouse_job,
            product_history_job]
