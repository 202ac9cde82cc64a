"""What the snapshot factory needs to know of one paginated endpoint of the shop API."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from dagster import AssetKey

from ecommerce_assets.lake import LakeLocation
from ecommerce_assets.transforms.raw_snapshot import raw_schema

# Made once per run from its resources (by name): turns a page's (record_id, record_json) rows into the rows
# that are kept, before they leave the process (the users' personal data, say).
RecordsHook = Callable[[Any], Callable[[pa.Table], pa.Table]]


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of the API snapshotted daily into the lake as it answers (GET /<path>?limit&skip, its
    records under the key named like the path)."""

    asset_key: AssetKey
    path: str  # "products": GET /products, records under "products"
    id_column: str  # the raw snapshot's column holding each record's integer `id`
    location: LakeLocation
    description: str
    group_name: str = "raw"
    # Personal data: records are reduced by `records_hook` before anything is written or logged, and the
    # API's error pages are never quoted in messages.
    personal: bool = False
    records_hook: RecordsHook | None = None
    hook_resource_keys: frozenset[str] = field(default_factory=frozenset)

    @property
    def name(self) -> str:
        return self.asset_key.to_user_string()

    @property
    def schema(self) -> pa.Schema:
        return raw_schema(self.id_column)

    def check_name(self, rule: str) -> str:
        return f"{self.name}__{rule}"
