"""The one daily partitioning every asset shares: the partition key plays the old pipeline's `ds`."""

from dagster import BackfillPolicy, DailyPartitionsDefinition

PARTITIONS_START = "2025-01-01"

daily_partitions = DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC", fmt="%Y-%m-%d")

# Backfills of the warehouse assets (ODS, changes, mart) run as batches of this many days per run, each
# asset taking the days in one step, one at a time: a 90-day backfill is 9 runs, not 90. The raw fetch
# keeps one run per day (the API only serves today).
BACKFILL_DAYS_PER_RUN = 10
BACKFILL_POLICY = BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_DAYS_PER_RUN)

# Concurrency pool of every step that writes to the warehouse (limit in dagster.yaml: concurrency.pools).
WAREHOUSE_POOL = "warehouse"
