"""raw_carts_parquet and raw_users_parquet: the shop's carts and users as the API answers `/carts` and `/users`,
one Parquet snapshot per day — carts exactly as received; users reduced before anything leaves the process
(`transforms/users.py`: no personal field is ever written, the e-mail only as a keyed hash)."""

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from ecommerce_assets.defs.sales.keys import RAW_CARTS, RAW_USERS
from ecommerce_assets.defs.sales.transforms.users import reduce_users
from ecommerce_assets.lake import LakeLocation
from ecommerce_assets.resources.pii import PiiKeyResource
from ecommerce_assets.snapshots import Endpoint, snapshot_asset, snapshot_checks


def users_reduced(resources: Any) -> Callable[[pa.Table], pa.Table]:
    """Each page of users reduced under the customer-key secret (the run refuses to start it without one)."""
    pii: PiiKeyResource = resources.pii
    key = pii.key_bytes()
    return lambda records: reduce_users(records, key)


CARTS = Endpoint(
    asset_key=RAW_CARTS,
    path="carts",
    id_column="cart_id",
    location=LakeLocation(prefix="raw/carts", partition_field="snapshot_date", filename="carts.parquet"),
    description="The day's carts exactly as the API returned them: one row per cart, JSON kept whole.",
)
USERS = Endpoint(
    asset_key=RAW_USERS,
    path="users",
    id_column="user_id",
    location=LakeLocation(prefix="raw/users", partition_field="snapshot_date", filename="users.parquet"),
    description="The day's users, each reduced before it leaves the process to id, age, gender, role, city, state, "
                "country and customer_key (HMAC-SHA256 of the e-mail under $ECOM_PII_KEY): no personal field is "
                "ever stored.",
    personal=True,
    records_hook=users_reduced,
    hook_resource_keys=frozenset({"pii"}),
)

raw_carts_parquet = snapshot_asset(CARTS)
raw_users_parquet = snapshot_asset(USERS)
raw_carts_checks = snapshot_checks(CARTS)
raw_users_checks = snapshot_checks(USERS)
