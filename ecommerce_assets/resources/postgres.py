"""The PostgreSQL warehouse: connections from a DSN that only ever comes from the environment."""

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import adbc_driver_manager.dbapi
import adbc_driver_postgresql.dbapi
import psycopg
import pyarrow as pa
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from ecommerce_assets.redaction import redact_text, redact_url
from ecommerce_assets.sql import load_sql

ADBC_KEPT = 4  # as many as one load's parallel COPYs (row_stream.MAX_PARALLEL_COPIES)
ADBC_IDLE_SECONDS = 30.0


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
            conn = adbc_driver_postgresql.dbapi.connect(dsn)
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


class PostgresResource(ConfigurableResource):
    """The warehouse; wire `dsn` with `EnvVar("ECOM_PG_DSN")` so the secret never sits in code or config.
    The DSN may leave the password out: libpq then takes $PGPASSWORD (or ~/.pgpass), unencoded."""

    dsn: str = Field(description="libpq URL of the warehouse, a secret: EnvVar ECOM_PG_DSN")
    application_name: str = Field(default="ecommerce_assets", description="how the pipeline's sessions are named in pg_stat_activity")
    connect_timeout_seconds: int = Field(default=10, description="seconds to open a connection")

    # Opening an ADBC connection cost ~60 ms here (measured, cause not traced), more than a
    # small day's COPY: the bulk connections are kept for reuse, idle and outside any transaction, and
    # closed with the resource (or at exit).
    _bulk: BulkConnections = PrivateAttr(default_factory=BulkConnections)

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """A connection whose `with` block is one transaction: committed on success, rolled back on error."""
        try:
            conn = psycopg.connect(self.dsn, application_name=self.application_name,
                                   connect_timeout=self.connect_timeout_seconds)
        except psycopg.OperationalError as exc:
            # libpq's message can quote the connection string; the password must not reach the logs.
            raise psycopg.OperationalError(redact_text(str(exc).replace(self.dsn, redact_url(self.dsn)))) from None
        with conn:
            conn.execute(load_sql("pg/session.sql"))
            yield conn

    @contextmanager
    def autocommit(self) -> Iterator[psycopg.Connection]:
        """A connection outside any transaction, for maintenance statements (VACUUM) that cannot run in one."""
        conn = psycopg.connect(self.dsn, application_name=self.application_name, autocommit=True,
                               connect_timeout=self.connect_timeout_seconds)
        with conn:
            conn.execute(load_sql("pg/session.sql"))
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
