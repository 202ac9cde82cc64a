"""Where the raw snapshots live in the lake, and how their object keys read."""

import re
from datetime import date

from ecommerce_assets.io_managers.s3_parquet import LakeLocation

RAW_PRODUCTS_LOCATION = LakeLocation(prefix="raw/products", partition_field="snapshot_date", filename="products.parquet")

_SNAPSHOT_KEY = re.compile(
    rf"^{re.escape(RAW_PRODUCTS_LOCATION.prefix)}/{RAW_PRODUCTS_LOCATION.partition_field}="
    rf"(\d{{4}}-\d{{2}}-\d{{2}})/{re.escape(RAW_PRODUCTS_LOCATION.filename)}$"
)


def snapshot_partition(key: str) -> str | None:
    """The partition key of a raw snapshot object key, or None when the key is not one."""
    match = _SNAPSHOT_KEY.match(key)
    if not match:
        return None
    try:
        date.fromisoformat(match.group(1))
    except ValueError:
        return None
    return match.group(1)
