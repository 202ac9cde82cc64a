"""Thin adapters from Dagster's contract to the lake and the warehouse: an asset that returns a day of rows
has them stored by `WarehouseDayIOManager`; a downstream asset receives an upstream day as an input through
it, or through `lake_snapshot_input` for a raw snapshot. Neither decides anything: they call `lake/` and
`warehouse/`."""

from ecommerce_assets.io_managers.lake_snapshots import lake_snapshot_input
from ecommerce_assets.io_managers.warehouse_days import WarehouseDayIOManager, warehouse_table_metadata

__all__ = ["WarehouseDayIOManager", "lake_snapshot_input", "warehouse_table_metadata"]
