"""Partition-at-a-time writes and reads of PostgreSQL tables through COPY, with Arrow on the Python side."""

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from ecommerce_assets.sql import load_sql

COPY_BATCH_ROWS = 65_536
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, batch_size=COPY_BATCH_ROWS)


@dataclass(frozen=True)
class TableName:
    schema: str
    name: str

    @classmethod
    def parse(cls, qualified: str) -> "TableName":
        schema, _, name = qualified.partition(".")
        if not name:
            raise ValueError(f"table name must be schema-qualified, got {qualified!r}")
        return cls(schema, name)

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Column:
    name: str
    arrow_type: pa.DataType
    has_default: bool


@dataclass(frozen=True)
class MergeStats:
    inserted: int
    updated: int
    unchanged: int
    deleted: int


def _q(name: str, **parts: sql.Composable) -> sql.Composed:
    return sql.SQL(load_sql(f"pg/{name}.sql")).format(**parts)


def _idents(names: list[str] | tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def table_columns(conn: psycopg.Connection, table: TableName) -> list[Column]:
    rows = conn.execute(load_sql("pg/table_columns.sql"), {"schema": table.schema, "table": table.name}).fetchall()
    if not rows:
        raise LookupError(f"table {table} does not exist; run the warehouse migrations")
    return [Column(name, _arrow_type(kind, precision, scale), bool(default)) for name, kind, precision, scale, default in rows]


def primary_key(conn: psycopg.Connection, table: TableName) -> list[str]:
    return [r[0] for r in conn.execute(load_sql("pg/primary_key.sql"), {"qualified_name": str(table)}).fetchall()]


def _arrow_type(kind: str, precision: int | None, scale: int | None) -> pa.DataType:
    if kind == "numeric":
        return pa.decimal128(precision, scale) if precision else pa.decimal128(38, 10)
    return {
        "smallint": pa.int16(), "integer": pa.int32(), "bigint": pa.int64(), "boolean": pa.bool_(),
        "real": pa.float32(), "double precision": pa.float64(), "date": pa.date32(),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"), "timestamp without time zone": pa.timestamp("us"),
    }.get(kind, pa.string())


def lock_partition(conn: psycopg.Connection, table: TableName, partition: date) -> None:
    conn.execute(load_sql("pg/lock_partition.sql"), {"lock_name": f"{table}:{partition.isoformat()}"})


def _stage(conn: psycopg.Connection, table: TableName, rows: pa.Table, partition_column: str,
           partition: date) -> sql.Identifier:
    """COPY `rows` into a transaction-scoped temporary copy of `table`; returns its name."""
    stage = sql.Identifier(f"stage_{table.schema}_{table.name}")
    conn.execute(_q("create_stage", stage=stage, target=table.ident))
    copy_rows(conn, stage, rows)
    foreign = conn.execute(_q("count_foreign_rows", stage=stage, partition_column=sql.Identifier(partition_column)),
                           {"partition": partition}).fetchone()
    if foreign and foreign[0]:
        raise ValueError(f"{foreign[0]} rows for {table} carry a {partition_column} other than {partition}")
    return stage


def copy_rows(conn: psycopg.Connection, table: sql.Composable, rows: pa.Table) -> None:
    """COPY an Arrow table into `table` as CSV written by Arrow (nulls unquoted, empty strings quoted); a
    writer thread sends one batch while Arrow formats the next."""
    statement = _q("copy_into", table=table, columns=_idents(rows.column_names))
    with conn.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        for batch in rows.to_batches(max_chunksize=COPY_BATCH_ROWS):
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, _CSV_OPTIONS)
            copy.write(buffer.getbuffer())


def merge_partition(conn: psycopg.Connection, table: TableName, partition_column: str, partition: date,
                    rows: pa.Table) -> MergeStats:
    """Make `table`'s partition equal `rows`: upsert by primary key (unchanged rows untouched), delete the rest."""
    key = primary_key(conn, table)
    if not key or partition_column not in key:
        raise ValueError(f"{table} needs a primary key that includes {partition_column}")
    columns = table_columns(conn, table)
    given = list(rows.column_names)
    unknown = set(given) - {c.name for c in columns}
    if unknown:
        raise ValueError(f"{table} has no columns {sorted(unknown)}")
    compared = [c for c in given if c not in key]
    audit = [c.name for c in columns if c.name not in given and c.has_default]  # loaded_at and the like
    stage = _stage(conn, table, rows, partition_column, partition)
    assignments = [sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in compared]
    assignments += [sql.SQL("{c} = DEFAULT").format(c=sql.Identifier(c)) for c in audit]
    if not assignments:
        raise ValueError(f"{table}: nothing to update besides the key")
    merged = conn.execute(_q(
        "merge_partition",
        target=table.ident,
        stage=stage,
        columns=_idents(given),
        key_columns=_idents(key),
        assignments=sql.SQL(", ").join(assignments),
        target_values=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in compared) if compared else sql.SQL("NULL"),
        excluded_values=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in compared) if compared else sql.SQL("NULL"),
    )).fetchone()
    inserted, updated = (int(merged[0]), int(merged[1])) if merged else (0, 0)
    deleted = conn.execute(_q(
        "delete_missing",
        target=table.ident,
        stage=stage,
        partition_column=sql.Identifier(partition_column),
        key_match=sql.SQL(" AND ").join(sql.SQL("s.{c} = t.{c}").format(c=sql.Identifier(c)) for c in key),
    ), {"partition": partition}).rowcount
    return MergeStats(inserted=inserted, updated=updated, unchanged=rows.num_rows - inserted - updated,
                      deleted=max(deleted, 0))


def replace_partition(conn: psycopg.Connection, table: TableName, partition_column: str, partition: date,
                      rows: pa.Table) -> int:
    """Delete `table`'s partition and insert `rows` instead; returns the rows written."""
    stage = _stage(conn, table, rows, partition_column, partition)
    conn.execute(_q("delete_partition", target=table.ident, partition_column=sql.Identifier(partition_column)),
                 {"partition": partition})
    conn.execute(_q("insert_from_stage", target=table.ident, stage=stage, columns=_idents(rows.column_names)))
    return rows.num_rows


def read_partition(conn: psycopg.Connection, table: TableName, partition_column: str, partition: date,
                   columns: list[str] | None = None) -> pa.Table:
    """One partition as an Arrow table typed from the catalog (COPY TO STDOUT, parsed by Arrow)."""
    known = table_columns(conn, table)
    wanted = [c for c in known if columns is None or c.name in columns]
    if columns is not None and len(wanted) != len(set(columns)):
        raise ValueError(f"{table} lacks columns {sorted(set(columns) - {c.name for c in known})}")
    key = primary_key(conn, table) or [wanted[0].name]
    statement = _q(
        "copy_partition_out",
        columns=_idents([c.name for c in wanted]),
        target=table.ident,
        partition_column=sql.Identifier(partition_column),
        partition=sql.Literal(partition),
        order_by=_idents(key),
    )
    buffer = io.BytesIO()
    with conn.cursor() as cur:
        cur.execute("SET LOCAL TimeZone = 'UTC'")
        with cur.copy(statement) as copy:
            for chunk in copy:
                buffer.write(chunk)
    schema = pa.schema([pa.field(c.name, c.arrow_type) for c in wanted])
    if buffer.tell() == 0:
        return schema.empty_table()
    buffer.seek(0)
    return pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(column_names=schema.names),
        convert_options=pacsv.ConvertOptions(
            column_types=schema, strings_can_be_null=True, quoted_strings_can_be_null=False,
        ),
    ).select(schema.names)


def write_partition(conn: psycopg.Connection, table: TableName, partition_column: str, partition: date,
                    rows: pa.Table, side_tables: Mapping[str, pa.Table]) -> tuple[MergeStats, dict[str, int]]:
    """Merge `rows` into `table` and replace each side table's partition, all under one partition lock."""
    lock_partition(conn, table, partition)
    stats = merge_partition(conn, table, partition_column, partition, rows)
    side_written = {
        name: replace_partition(conn, TableName.parse(name), partition_column, partition, side_rows)
        for name, side_rows in side_tables.items()
    }
    return stats, side_written
