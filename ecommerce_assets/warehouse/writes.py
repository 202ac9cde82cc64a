"""Writing one partition of a table: under the partition's lock (held by one connection for the whole load)
the rows are staged, then written in one transaction — a day partition swapped in, or a merge by primary
key — and the load recorded in the same transaction. A failure leaves the table as it was; a load that dies
leaves a stage that the next load drops."""

from datetime import date

import pyarrow as pa

from ecommerce_assets.warehouse.copy import Ingest
from ecommerce_assets.warehouse.day_spools import day_identity
from ecommerce_assets.warehouse.days import LoadStats, staged_day, swap_day
from ecommerce_assets.warehouse.keyed import merge_partition
from ecommerce_assets.warehouse.loads import backend_pid, loaded_digest, lock_partition, record_load
from ecommerce_assets.warehouse.stages import Connect, drop_stale_stages, staged
from ecommerce_assets.warehouse.tables import TableName, is_partitioned


def write_partition(connect: Connect, ingest: Ingest, table: TableName, partition_column: str, partition: date,
                    rows: pa.Table | pa.RecordBatchReader) -> LoadStats:
    """Make the stored partition of `table` equal `rows`. A day-partitioned table takes a stream of batches
    (never all in memory), and a day reloaded with the rows it was last loaded with (same digest) is left as
    it is without comparing anything; any other table is merged by primary key."""
    with connect() as guard:
        lock_partition(guard, table, partition)
        owner = backend_pid(guard)
        drop_stale_stages(guard, table)
        if not is_partitioned(guard, table):
            whole = rows if isinstance(rows, pa.Table) else rows.read_all()
            with staged(connect, ingest, table, whole, partition_column, partition, owner) as stage, connect() as conn:
                stats = merge_partition(conn, stage, partition_column, partition, list(whole.column_names))
                record_load(conn, table, partition, whole.num_rows, changed=stats.changed)
                return stats
        reader = rows if isinstance(rows, pa.RecordBatchReader) else pa.RecordBatchReader.from_batches(
            rows.schema, rows.to_batches())
        names = list(reader.schema.names)
        with staged_day(connect, ingest, table, reader, partition_column, partition, owner) as day:
            with connect() as conn:
                if loaded_digest(conn, table, partition) == day.digest:
                    # the stored day was loaded from these very rows: leave it, drop the stage
                    stats = LoadStats(inserted=0, updated=0, unchanged=day.stage.rows, deleted=0)
                else:
                    stats = swap_day(conn, day.stage, partition_column, partition, names)
                record_load(conn, table, partition, day.stage.rows, changed=stats.changed, digest=day.digest)
                identity = day_identity(conn, str(table), partition.isoformat(), day.digest)
            day.spool.give(identity)  # committed: the day's next read on this host may take the rows from here
            return stats
