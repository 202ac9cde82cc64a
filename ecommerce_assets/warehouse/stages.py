"""Stages: tables of the `staging` schema that hold the rows of one load until they are merged or attached.
A stage is named after its table, its creation time and the backend that holds the load's lock, so one left
by a load that died (a killed worker) is dropped by the next load of that table."""

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.warehouse.copy import Ingest
from ecommerce_assets.warehouse.tables import TableName, idents, table_columns

SQL = SqlFiles("ecommerce_assets.warehouse")
STALE_STAGE_SECONDS = 6 * 3600

# Opens a connection whose `with` block is one transaction.
Connect = Callable[[], AbstractContextManager[psycopg.Connection]]


@dataclass(frozen=True)
class Stage:
    """An unlogged table in `staging` holding the rows of one load of `target`."""

    target: TableName
    name: str
    rows: int = 0

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier("staging", self.name)


def _prefix(table: TableName) -> str:
    return f"{table.schema}__{table.name}__"


def new_stage(table: TableName, rows: int, owner: int) -> Stage:
    """A stage named after its table, its creation time and the backend that holds the load's lock (its
    owner): a stage whose owner is gone was left by a load that died, and any later load drops it."""
    return Stage(table, f"{_prefix(table)}{int(time.time())}_{owner}_{uuid.uuid4().hex[:8]}", rows)


def drop_stage(conn: psycopg.Connection, stage: Stage | sql.Identifier) -> None:
    conn.execute(SQL.composed("drop_stage", stage=stage.ident if isinstance(stage, Stage) else stage))


def check_partition_values(table: TableName, rows: pa.Table | pa.RecordBatch, partition_column: str,
                           partition: date) -> None:
    values = rows.column(partition_column)
    if values.null_count or (rows.num_rows and not pc.all(pc.equal(values, pa.scalar(partition, values.type))).as_py()):
        raise ValueError(f"rows for {table} carry a {partition_column} other than {partition}")


@contextmanager
def staged(connect: Connect, ingest: Ingest, table: TableName, rows: pa.Table, partition_column: str,
           partition: date, owner: int) -> Iterator[Stage]:
    """Bulk-load `rows` into a new stage of `table`; the stage is dropped afterwards whatever happens (the
    merge normally drops it inside its own transaction)."""
    check_partition_values(table, rows, partition_column, partition)
    stage = new_stage(table, rows.num_rows, owner)
    with connect() as conn:
        conn.execute(SQL.composed("create_stage", stage=stage.ident, target=table.ident, columns=idents(rows.column_names)))
        for column in table_columns(conn, table):
            if column.name in rows.column_names and column.sql_type in ("json", "jsonb"):
                conn.execute(SQL.composed("stage_json_as_text", stage=stage.ident, column=sql.Identifier(column.name)))
    try:
        ingest(stage.name, rows)
        yield stage
    finally:
        with connect() as conn:
            drop_stage(conn, stage)


def drop_stale_stages(conn: psycopg.Connection, table: TableName) -> list[str]:
    """Drop stages of `table` left by loads that died before they could: their owner backend is gone (a
    killed worker's connections close with it), or they are older than STALE_STAGE_SECONDS. Stages of
    loads still running are kept."""
    prefix = _prefix(table)
    live = {int(pid) for (pid,) in conn.execute(SQL.text("live_backends.sql")).fetchall()}
    stale = []
    for (name,) in conn.execute(SQL.text("stale_stages.sql"), {"prefix": prefix}).fetchall():
        created, _, rest = name[len(prefix):].partition("_")
        owner = rest.split("_")[0]
        dead = owner.isdigit() and int(owner) not in live
        old = created.isdigit() and time.time() - int(created) > STALE_STAGE_SECONDS
        if dead or old:
            drop_stage(conn, sql.Identifier("staging", name))
            stale.append(name)
    return stale
