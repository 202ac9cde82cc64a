"""What the warehouse knows of a table: its name, its columns as Arrow types, its primary key, whether it
is partitioned by day and the name of a day's partition."""

from dataclasses import dataclass
from datetime import date

import psycopg
import pyarrow as pa
from psycopg import sql

from ecommerce_assets.sql_files import SqlFiles

SQL = SqlFiles("ecommerce_assets.warehouse")


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
    sql_type: str  # format_type(): the exact type, for casts from the stage


def idents(names: list[str] | tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def table_columns(conn: psycopg.Connection, table: TableName) -> list[Column]:
    rows = conn.execute(SQL.text("table_columns.sql"), {"schema": table.schema, "table": table.name}).fetchall()
    if not rows:
        raise LookupError(f"table {table} does not exist; run the warehouse migrations")
    return [Column(name, arrow_type(kind, precision, scale), bool(default), sql_type)
            for name, kind, precision, scale, default, sql_type in rows]


def primary_key(conn: psycopg.Connection, table: TableName) -> list[str]:
    return [r[0] for r in conn.execute(SQL.text("primary_key.sql"), {"qualified_name": str(table)}).fetchall()]


def arrow_type(kind: str, precision: int | None, scale: int | None) -> pa.DataType:
    if kind == "numeric":
        return pa.decimal128(precision, scale) if precision else pa.decimal128(38, 10)
    return {
        "smallint": pa.int16(), "integer": pa.int32(), "bigint": pa.int64(), "boolean": pa.bool_(),
        "real": pa.float32(), "double precision": pa.float64(), "date": pa.date32(),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"), "timestamp without time zone": pa.timestamp("us"),
    }.get(kind, pa.string())


def day_partition(table: TableName, partition: date) -> TableName:
    """The name of a day's partition of a table partitioned by day."""
    return TableName(table.schema, f"{table.name}_p{partition:%Y%m%d}")


def relation_kind(conn: psycopg.Connection, table: TableName) -> str | None:
    """pg_class.relkind of a relation ('r' a table, 'p' a partitioned table), None when it does not exist."""
    row = conn.execute(SQL.text("relation_kind.sql"), {"qualified_name": str(table)}).fetchone()
    return str(row[0]) if row else None


def is_partitioned(conn: psycopg.Connection, table: TableName) -> bool:
    return relation_kind(conn, table) == "p"
