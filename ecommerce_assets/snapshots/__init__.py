"""The raw layer, written once for every endpoint of the shop API: an `Endpoint` says what to fetch and where
to keep it; `snapshot_asset` and `snapshot_checks` make its asset and checks, `lake_snapshot_sensor` records
snapshots other systems drop into the lake, `records_and_superseded` counts what an ODS accounting check adds
up to, `stored_record_keys` the schema-drift census a snapshot's footer holds."""

from ecommerce_assets.snapshots.census import stored_record_keys
from ecommerce_assets.snapshots.checks import records_and_superseded, snapshot_checks
from ecommerce_assets.snapshots.endpoint import Endpoint
from ecommerce_assets.snapshots.factory import SnapshotConfig, snapshot_asset
from ecommerce_assets.snapshots.sensor import lake_snapshot_sensor

__all__ = ["Endpoint", "SnapshotConfig", "lake_snapshot_sensor", "records_and_superseded", "snapshot_asset",
           "snapshot_checks", "stored_record_keys"]
