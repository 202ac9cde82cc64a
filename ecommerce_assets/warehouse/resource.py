"""The warehouse resource: the one way into PostgreSQL for assets, checks, sensors and IO managers alike —
connections from a DSN that only ever comes from the environment, and the warehouse's own operations on
them (write a day, read a day, retire days, locks, load records)."""

import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime

import adbc_driver_manager.dbapi
import adbc_driver_postgresql.dbapi
import psycopg
import pyarrow as pa
from dagster import ConfigurableResource
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import Field, PrivateAttr

from ecommerce_assets.redaction import redact_text, redact_url
from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.warehouse import days, loads, migrations, reads, writes
from ecommerce_assets.warehouse.copy import MAX_PARALLEL_COPIES
from ecommerce_assets.warehouse.days import LoadStats
from ecommerce_assets.warehouse.tables import TableName

SQL = SqlFiles("ecommerce_assets.warehouse")

ADBC_KEPT = MAX_PARALLEL_COPIES  # as many as one load's parallel COPYs
ADBC_IDLE_SECONDS = 30.0


# The server drops a session whose client is gone (a host lost, a network cut) within about a minute, not the
# hours of the operating system's default: a retried load would otherwise wait on the day's lock that its
# dead first attempt's session still holds.
KEEPALIVES = "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"


def with_keepalives(dsn: str) -> str:
    """`dsn` with the server-side keepalives added to its `options` (kept when it names options itself)."""
    given = conninfo_to_dict(dsn).get("options")
    return make_conninfo(dsn, options=f"{given} {KEEPALIVES}" if given else KEEPALIVES)


class BulkConnections:
    """ADBC connections kept for reuse: at most ADBC_KEPT, each idle for less than ADBC_IDLE_SECONDS."""

    def __init__(self) -> None:
        self._idle: list[tuple[adbc_driver_manager.dbapi.Connection, float]] = []
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize | None = None

    @contextmanager
    def connection(self, dsn: str, owner: object) -> Iterator[adbc_driver_manager.dbapi.Connection]:
        """A kept connection when there is one, else a new one; given back with its transaction ended, so an
        idle connection holds no snapshot and no lock. One that failed is closed, never handed out again."""
        conn = None
        with self._lock:
            if self._finalizer is None:  # the idle connections close when their owner goes, or at exit
                self._finalizer = weakref.finalize(owner, self.close)
            while self._idle and conn is None:
                kept, since = self._idle.pop()
                if time.monotonic() - since < ADBC_IDLE_SECONDS:
                    conn = kept
                else:
                    kept.close()
        if conn is None:
            conn = adbc_driver_postgresql.dbapi.connect(with_keepalives(dsn))
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        try:
            conn.rollback()  # a read's transaction; after a commit, nothing
        except adbc_driver_manager.dbapi.Error:  # the work is done; the connection is not kept
            conn.close()
            return
        with self._lock:
            if len(self._idle) < ADBC_KEPT:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()


class WarehouseResource(ConfigurableResource):
    """The warehouse; wire `dsn` with `EnvVar("ECOM_PG_DSN")` so the secret never sits in code or config.
    The DSN may leave the password out: libpq then takes $PGPASSWORD (or ~/.pgpass), unencoded."""

    dsn: str = Field(description="libpq URL of the warehouse, a secret: EnvVar ECOM_PG_DSN")
    application_name: str = Field(default="ecommerce_assets", description="how the pipeline's sessions are named in pg_stat_activity")
    connect_timeout_seconds: int = Field(default=10, description="seconds to open a connection")

    # Opening an ADBC connection cost ~60 ms here (measured, cause not traced), more than a
    # small day's COPY: the bulk connections are kept for reuse, idle and outside any transaction, and
    # closed with the resource (or at exit).
    _bulk: BulkConnections = PrivateAttr(default_factory=BulkConnections)

    # -- connections

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """A connection whose `with` block is one transaction: committed on success, rolled back on error."""
        with self._connection(autocommit=False) as conn:
            yield conn

    @contextmanager
    def autocommit(self) -> Iterator[psycopg.Connection]:
        """A connection outside any transaction, for maintenance statements (VACUUM) that cannot run in one."""
        with self._connection(autocommit=True) as conn:
            yield conn

    @contextmanager
    def _connection(self, autocommit: bool) -> Iterator[psycopg.Connection]:
        try:
            conn = psycopg.connect(with_keepalives(self.dsn), application_name=self.application_name,
                                   autocommit=autocommit, connect_timeout=self.connect_timeout_seconds)
        except psycopg.OperationalError as exc:
            # libpq's message can quote the connection string; the password must not reach the logs.
            raise psycopg.OperationalError(redact_text(str(exc).replace(self.dsn, redact_url(self.dsn)))) from None
        with conn:
            conn.execute(SQL.text("session.sql"))
            yield conn

    @contextmanager
    def bulk_connection(self) -> Iterator[adbc_driver_manager.dbapi.Connection]:
        """An ADBC connection for one bulk read or write (see BulkConnections)."""
        with self._bulk.connection(self.dsn, owner=self) as conn:
            yield conn

    def fetch_arrow(self, statement: str, parameters: tuple[object, ...] = ()) -> pa.Table:
        """Run one query (`$1`-style parameters) and return its rows as Arrow, in the binary protocol."""
        with self.bulk_connection() as conn, conn.cursor() as cur:
            cur.execute(statement, parameters=parameters or None)
            return cur.fetch_arrow_table()

    @contextmanager
    def fetch_batches(self, statement: str, parameters: tuple[object, ...] = ()) -> Iterator[pa.RecordBatchReader]:
        """The same as fetch_arrow, as a stream of batches read while the context is open."""
        with self.bulk_connection() as conn, conn.cursor() as cur:
            cur.execute(statement, parameters=parameters or None)
            yield cur.fetch_record_batch()

    def ingest(self, table: str, rows: pa.Table | pa.RecordBatchReader, schema: str = "staging") -> None:
        """Append `rows` to an existing `schema.table` by binary COPY straight from Arrow (ADBC), committed;
        a reader is streamed batch by batch."""
        with self.bulk_connection() as conn, conn.cursor() as cur:
            cur.adbc_ingest(table, rows, mode="append", db_schema_name=schema)
            conn.commit()

    # -- the warehouse's operations

    def require_current_schema(self) -> None:
        """Raise SchemaNotCurrent, naming the command to run, unless every migration is applied (runs never
        migrate: a set-up step does)."""
        with self.connect() as conn:
            migrations.require_current_schema(conn)

    def write_day(self, table: str, partition_column: str, day: date, rows: pa.Table | pa.RecordBatchReader) -> LoadStats:
        """Make the stored day of `table` equal `rows` (a day partition swapped in, or a merge by primary key),
        the load recorded in the same transaction; a failure leaves the day as it was."""
        return writes.write_partition(self.connect, self.ingest, TableName.parse(table), partition_column, day, rows)

    @contextmanager
    def read_day(self, table: str, partition_column: str, day: date,
                 columns: list[str] | None = None) -> Iterator[pa.RecordBatchReader]:
        """The stored day of `table` as a stream of Arrow batches, exactly as stored; PartitionAbsent when the
        day was never loaded."""
        with self.connect() as conn, reads.partition_batches(conn, self.fetch_batches, TableName.parse(table),
                                                             partition_column, day, columns) as reader:
            yield reader

    def day_schema(self, table: str, columns: list[str] | None = None) -> pa.Schema:
        """The Arrow schema read_day gives for `table` (its `columns`)."""
        with self.connect() as conn:
            return reads.partition_schema(conn, TableName.parse(table), columns)

    def day_loaded(self, table: str, day: date) -> bool:
        with self.connect() as conn:
            return loads.partition_loaded(conn, table, day)

    def retire_day(self, table: str, partition_column: str, day: date, side_tables: Sequence[str] = ()) -> int:
        """Drop one stored day of a day-partitioned table (and its rows in `side_tables`), remembered as
        retired; returns the rows it held."""
        with self.connect() as conn:
            return days.retire_day(conn, TableName.parse(table), day, [TableName.parse(t) for t in side_tables],
                                   partition_column)

    @staticmethod
    def lock(conn: psycopg.Connection, name: str) -> None:
        """A transaction-scoped advisory lock on `name` (a table, or a table's day as `table:YYYY-MM-DD`)."""
        loads.lock(conn, name)

    @staticmethod
    def lock_day(conn: psycopg.Connection, table: str, day: date) -> None:
        """The lock every writer of one day of one table takes first."""
        loads.lock_partition(conn, table, day)

    @staticmethod
    def record_load(conn: psycopg.Connection, table: str, day: date, row_count: int, *, changed: bool) -> None:
        """Record a day of `table` as loaded, in the caller's transaction (what SQL-built tables do)."""
        loads.record_load(conn, table, day, row_count, changed=changed)

    @staticmethod
    def is_loaded(conn: psycopg.Connection, table: str, day: date) -> bool:
        return loads.partition_loaded(conn, table, day)

    @staticmethod
    def forget_load(conn: psycopg.Connection, table: str, day: date) -> None:
        """A day of a SQL-built `table` holds nothing any more (its load record goes, in the caller's transaction)."""
        loads.forget_load(conn, table, day)

    # What incremental tables have taken in: one record for every consumer of every source (meta.applied_loads).

    @staticmethod
    def pending_days(conn: psycopg.Connection, consumer: str, source: str, *,
                     of_consumer: bool = False) -> list[tuple[date, datetime | None]]:
        """The days of `source` (a day-partitioned table, or with `of_consumer` another consumer's taken-in days)
        that `consumer` has not taken in as they are now: (day, load time), or (day, None) for a day `source` no
        longer has. In day order."""
        return loads.pending_days(conn, consumer, source, of_consumer=of_consumer)

    @staticmethod
    def mark_applied(conn: psycopg.Connection, consumer: str, source: str, day: date, loaded_at: datetime | None) -> None:
        loads.mark_applied(conn, consumer, source, day, loaded_at)

    @staticmethod
    def forget_applied(conn: psycopg.Connection, consumer: str, source: str, after: date | None) -> None:
        loads.forget_applied(conn, consumer, source, after)

    @staticmethod
    def latest_applied(conn: psycopg.Connection, consumer: str, source: str, before: date | None = None) -> date | None:
        return loads.latest_applied(conn, consumer, source, before)
