"""What the warehouse records about its loads (`meta.partition_loads`) and the locks that serialise the
writers of one table partition."""

from datetime import date, datetime

import psycopg

from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.warehouse.tables import TableName

SQL = SqlFiles("ecommerce_assets.warehouse")


def lock(conn: psycopg.Connection, name: str) -> None:
    """A transaction-scoped advisory lock on `name`: held until `conn`'s transaction ends."""
    conn.execute(SQL.text("lock_partition.sql"), {"lock_name": name})


def lock_partition(conn: psycopg.Connection, table: TableName | str, partition: date) -> None:
    """The lock of one partition of one table (every writer of it takes it first)."""
    lock(conn, f"{table}:{partition.isoformat()}")


def record_load(conn: psycopg.Connection, table: TableName | str, partition: date, row_count: int, *,
                changed: bool, digest: str | None = None) -> None:
    """Record a partition as loaded, in the load's own transaction: present even when it holds no row (an
    empty catalog day), `loaded_at` moved only when its rows changed."""
    conn.execute(SQL.text("record_partition_load.sql"),
                 {"table_name": str(table), "partition": partition, "row_count": row_count, "changed": changed,
                  "digest": digest})


def partition_loaded(conn: psycopg.Connection, table: TableName | str, partition: date) -> bool:
    """Whether the partition was loaded (ever, and not dropped by retention since)."""
    row = conn.execute(SQL.text("partition_loaded.sql"), {"table_name": str(table), "partition": partition}).fetchone()
    return bool(row and row[0])


def loaded_digest(conn: psycopg.Connection, table: TableName, partition: date) -> str | None:
    """The digest of the rows a stored day was last loaded with (None: unknown)."""
    row = conn.execute(SQL.text("loaded_digest.sql"), {"table_name": str(table), "partition": partition}).fetchone()
    return str(row[0]) if row and row[0] is not None else None


def mark_retired(conn: psycopg.Connection, table: TableName, partition: date) -> None:
    conn.execute(SQL.text("retire_partition.sql"), {"table_name": str(table), "partition": partition})


def backend_pid(conn: psycopg.Connection) -> int:
    return int(conn.execute(SQL.text("backend_pid.sql")).fetchone()[0])  # type: ignore[index]


def forget_load(conn: psycopg.Connection, table: TableName | str, partition: date) -> None:
    """A day of `table` holds nothing any more (what follows the table sees the day gone)."""
    conn.execute(SQL.text("forget_load.sql"), {"table_name": str(table), "partition": partition})


def pending_days(conn: psycopg.Connection, consumer: str, source: str, *,
                 of_consumer: bool = False) -> list[tuple[date, datetime | None]]:
    """The days of `source` that `consumer` has not taken in as they are now, in order: (day, its load time),
    or (day, None) for a day it took in that `source` no longer has. `source` is a day-partitioned table, or
    with `of_consumer` another consumer (the days it has taken in)."""
    rows = conn.execute(SQL.text("pending_days.sql"),
                        {"consumer": consumer, "source": source, "of_consumer": of_consumer}).fetchall()
    return [(row[0], row[1]) for row in rows]


def mark_applied(conn: psycopg.Connection, consumer: str, source: str, day: date, loaded_at: datetime | None) -> None:
    """`consumer` has taken in `day` of `source` as of `loaded_at` (None: the day is gone, forgotten)."""
    params = {"consumer": consumer, "source": source, "day": day, "loaded_at": loaded_at}
    conn.execute(SQL.text("mark_applied.sql" if loaded_at is not None else "forget_applied_day.sql"), params)


def forget_applied(conn: psycopg.Connection, consumer: str, source: str, after: date | None) -> None:
    """`consumer` no longer holds what it took in of `source`'s days after `after` (all when None): a rewind."""
    conn.execute(SQL.text("forget_applied.sql"), {"consumer": consumer, "source": source, "day": after})


def latest_applied(conn: psycopg.Connection, consumer: str, source: str, before: date | None = None) -> date | None:
    row = conn.execute(SQL.text("latest_applied.sql"),
                       {"consumer": consumer, "source": source, "before": before}).fetchone()
    return row[0] if row and isinstance(row[0], date) else None
