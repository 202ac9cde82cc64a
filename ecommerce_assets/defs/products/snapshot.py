"""raw_products_parquet: the catalog as the API answers `/products`, one Parquet snapshot per day."""

from ecommerce_assets.defs.products.keys import RAW
from ecommerce_assets.lake import LakeLocation
from ecommerce_assets.snapshots import Endpoint, snapshot_asset, snapshot_checks

PRODUCTS = Endpoint(
    asset_key=RAW,
    path="products",
    id_column="product_id",
    location=LakeLocation(prefix="raw/products", partition_field="snapshot_date", filename="products.parquet"),
    description="The day's product catalog exactly as the API returned it: one row per record, JSON kept whole.",
)

raw_products_parquet = snapshot_asset(PRODUCTS)
raw_products_checks = snapshot_checks(PRODUCTS)
