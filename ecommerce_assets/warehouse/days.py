"""Tables partitioned by day (LIST on the partition column, one partition per day, `<table>_pYYYYMMDD`):
a day is COPYed into a table of its own shaped like the target, compared with the stored day by primary
key, and — only if it differs — indexed and attached in place of the stored partition in one short
transaction. Replacing a day costs O(day) however many days are stored; an unchanged reload writes nothing.
Retiring a day drops its partition."""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import psycopg
import pyarrow as pa
from psycopg import sql

from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.warehouse.copy import Ingest, StreamDigest, copy_stream, fixed_batches
from ecommerce_assets.warehouse.day_spools import DaySpool
from ecommerce_assets.warehouse.loads import lock_partition, mark_retired
from ecommerce_assets.warehouse.stages import Connect, Stage, check_partition_values, drop_stage, new_stage
from ecommerce_assets.warehouse.tables import (
    TableName,
    day_partition,
    idents,
    primary_key,
    relation_kind,
    table_columns,
)

SQL = SqlFiles("ecommerce_assets.warehouse")


@dataclass(frozen=True)
class LoadStats:
    """What a load did to the stored partition, by primary key."""

    inserted: int
    updated: int
    unchanged: int
    deleted: int

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)


@dataclass(frozen=True)
class StagedDay:
    stage: Stage
    digest: str  # of the rows as they were copied (copy.StreamDigest)
    spool: DaySpool  # the same rows in a local file, for the day's next reader once the load commits


@contextmanager
def staged_day(connect: Connect, ingest: Ingest, table: TableName, rows: pa.RecordBatchReader, partition_column: str,
               partition: date, owner: int) -> Iterator[StagedDay]:
    """COPY `rows` (read once, never all in memory) into a new table shaped like the partitioned `table`,
    ready to become its partition for `partition`, checking and fingerprinting them on the way; the table
    is dropped afterwards unless it was attached."""
    stage = new_stage(table, 0, owner)
    with connect() as conn:
        conn.execute(SQL.composed("create_day_table", day_table=stage.ident, target=table.ident,
                                  bound_name=sql.Identifier(f"{day_partition(table, partition).name}_bound"),
                                  partition_column=sql.Identifier(partition_column), day=sql.Literal(partition)))
        json_columns = {c.name for c in table_columns(conn, table) if c.sql_type in ("json", "jsonb")}
        key = primary_key(conn, table)
    # JSON as Arrow's JSON extension type: ADBC then sends it in jsonb's binary format (no cast afterwards).
    schema = rows.schema
    wire_schema = pa.schema([pa.field(f.name, pa.json_()) if f.name in json_columns else f for f in schema])
    digest = StreamDigest(schema)
    spool = DaySpool(schema, key, partition_column, json_columns)

    def checked() -> Iterator[pa.RecordBatch]:
        for batch in fixed_batches(rows, schema):
            check_partition_values(table, batch, partition_column, partition)
            digest.add(batch)
            spool.add(batch)
            yield pa.RecordBatch.from_arrays(
                [column.cast(pa.string()).cast(pa.json_()) if field.name in json_columns else column
                 for field, column in zip(schema, batch.columns, strict=True)], schema=wire_schema)

    try:
        copy_stream(ingest, stage.name, wire_schema, checked())
        yield StagedDay(dataclasses.replace(stage, rows=digest.rows), digest.hexdigest(), spool)
    finally:
        spool.discard()
        with connect() as conn:
            drop_stage(conn, stage)


def _values(prefix: str, names: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL(prefix + ".{}").format(sql.Identifier(c)) for c in names) if names else sql.SQL("NULL")


def swap_day(conn: psycopg.Connection, stage: Stage, partition_column: str, partition: date,
             given: list[str]) -> LoadStats:
    """Make the staged day the target's partition for `partition` unless it equals the stored one: then the
    stage is left to be dropped and nothing is written. Call under the partition's lock."""
    table = stage.target
    key = primary_key(conn, table)
    if not key or partition_column not in key:
        raise ValueError(f"{table} needs a primary key that includes {partition_column}")
    unknown = set(given) - {c.name for c in table_columns(conn, table)}
    if unknown:
        raise ValueError(f"{table} has no columns {sorted(unknown)}")
    part = day_partition(table, partition)
    inserted, updated, deleted = stage.rows, 0, 0
    if relation_kind(conn, part) is not None:
        compared = [c for c in given if c not in key]
        counts = conn.execute(SQL.composed(
            "compare_day", first_key=sql.Identifier(key[0]), day_table=stage.ident, partition=part.ident,
            stage_values=_values("s", compared), target_values=_values("t", compared),
            key_match=sql.SQL(" AND ").join(sql.SQL("s.{c} = t.{c}").format(c=sql.Identifier(c)) for c in key),
        )).fetchone()
        inserted, updated, deleted = (int(v) for v in counts) if counts else (0, 0, 0)
        if not (inserted or updated or deleted):
            return LoadStats(inserted=0, updated=0, unchanged=stage.rows, deleted=0)
    conn.execute(SQL.composed("index_day_table", day_table=stage.ident, key_columns=idents(key),
                              pkey_name=sql.Identifier(f"{part.name}_pkey")))
    conn.execute(SQL.composed("drop_table", table=part.ident))
    conn.execute(SQL.composed("attach_day", day_table=stage.ident, schema=sql.Identifier(table.schema),
                              moved=sql.Identifier(table.schema, stage.name), partition_name=sql.Identifier(part.name),
                              target=table.ident, partition=part.ident, day=sql.Literal(partition)))
    return LoadStats(inserted=inserted, updated=updated, unchanged=stage.rows - inserted - updated, deleted=deleted)


def retire_day(conn: psycopg.Connection, table: TableName, day: date, side_tables: list[TableName],
               partition_column: str) -> int:
    """Drop one day of a day-partitioned table (and its rows in `side_tables`), under the day's lock, and
    mark it retired in `meta.partition_loads`; returns the rows the day held."""
    lock_partition(conn, table, day)
    part = day_partition(table, day)
    rows = 0
    if relation_kind(conn, part) is not None:
        rows = int(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(part.ident)).fetchone()[0])  # type: ignore[index]
    conn.execute(SQL.composed("drop_table", table=part.ident))
    for side in side_tables:
        lock_partition(conn, side, day)
        conn.execute(SQL.composed("delete_partition", target=side.ident, partition_column=sql.Identifier(partition_column)),
                     {"partition": day})
        mark_retired(conn, side, day)
    mark_retired(conn, table, day)
    return rows
