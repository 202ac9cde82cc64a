"""The one daily partitioning every asset shares: the partition key plays the old pipeline's `ds`."""

from dagster import DailyPartitionsDefinition

PARTITIONS_START = "2025-01-01"

daily_partitions = DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC", fmt="%Y-%m-%d")

# Concurrency pool of every step that writes to the warehouse (limit in dagster.yaml: concurrency.pools).
WAREHOUSE_POOL = "warehouse"
