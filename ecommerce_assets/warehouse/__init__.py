"""The one owner of the PostgreSQL warehouse: its schema (versioned migrations), writing and reading a day of
a table, retiring days, the locks that serialise writers and the record of every load. Assets, checks,
sensors and IO managers use it through `WarehouseResource`; nothing else speaks to PostgreSQL's tables
directly but the SQL of the assets that build a table in the warehouse."""

from ecommerce_assets.warehouse.days import LoadStats
from ecommerce_assets.warehouse.migrations import SchemaNotCurrent, migrate, missing_migrations
from ecommerce_assets.warehouse.reads import PartitionAbsent
from ecommerce_assets.warehouse.resource import WarehouseResource

__all__ = ["LoadStats", "PartitionAbsent", "SchemaNotCurrent", "WarehouseResource", "migrate", "missing_migrations"]
