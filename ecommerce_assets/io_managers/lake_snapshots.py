"""Raw snapshots as inputs: the stored object of a day as an Arrow dataset over a local copy (DuckDB scans it
several times), or for a range of days a mapping whose datasets are fetched one at a time."""

from collections.abc import Mapping

import pyarrow.dataset as pads
from dagster import InputContext, input_manager

from ecommerce_assets.lake import LakeLocation, LakeResource
from ecommerce_assets.partition_map import for_partitions
from ecommerce_assets.retries import heals


@input_manager(required_resource_keys={"lake"},
               description="Loads a day of a raw snapshot (the lake's Parquet object) as an Arrow dataset.")
@heals
def lake_snapshot_input(context: InputContext) -> pads.Dataset | Mapping[str, pads.Dataset]:
    upstream = context.upstream_output
    if upstream is None or upstream.asset_key is None:
        raise ValueError("lake_snapshot_input only loads the snapshots of raw assets")
    lake: LakeResource = context.resources.lake
    location = LakeLocation.from_metadata(upstream.definition_metadata)
    asset = upstream.asset_key.to_user_string()

    def load(partition_key: str) -> pads.Dataset:
        key = location.key(partition_key)
        if not lake.exists(key):
            raise FileNotFoundError(
                f"no stored object at {lake.uri(key)}: materialize {asset} for partition {partition_key} first")
        return lake.dataset(key)

    return for_partitions(context.asset_partition_keys, load)
