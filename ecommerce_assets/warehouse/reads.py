"""Reading one partition of a table into Arrow, in PostgreSQL's binary protocol (ADBC): every value comes
back exactly as stored — numerics as their exact decimal text, the rest binary, no null markers — typed
from the catalog."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date

import psycopg
import pyarrow as pa
from psycopg import sql

from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.warehouse.day_spools import day_identity, handed_day
from ecommerce_assets.warehouse.loads import loaded_digest, partition_loaded
from ecommerce_assets.warehouse.tables import (
    Column,
    TableName,
    day_partition,
    idents,
    is_partitioned,
    primary_key,
    table_columns,
)

SQL = SqlFiles("ecommerce_assets.warehouse")

# Runs a query with bind parameters and streams its rows as Arrow batches while the context is open.
FetchBatches = Callable[[str, tuple[object, ...]], AbstractContextManager[pa.RecordBatchReader]]


class PartitionAbsent(LookupError):
    """A partition that was never loaded (as opposed to one loaded with no rows)."""

    def __init__(self, table: TableName | str, partition: date, remedy: str = "") -> None:
        super().__init__(f"{table} has no partition {partition}: it was never loaded" + (f"; {remedy}" if remedy else ""))
        self.table = str(table)
        self.partition = partition


def _wanted(conn: psycopg.Connection, table: TableName, columns: list[str] | None) -> list[Column]:
    """The columns a read returns, in the table's order; raises for a column the table lacks."""
    known = table_columns(conn, table)
    wanted = [c for c in known if columns is None or c.name in columns]
    if columns is not None and len(wanted) != len(set(columns)):
        raise ValueError(f"{table} lacks columns {sorted(set(columns) - {c.name for c in known})}")
    return wanted


def _partition_query(conn: psycopg.Connection, table: TableName, partition_column: str, partition: date,
                     wanted: list[Column]) -> tuple[str, tuple[object, ...]]:
    """The statement that reads `wanted` of one partition, and its parameters. A table partitioned by day
    is read from the day's own table, with no parameter: ADBC then streams the result as one binary COPY
    instead of row by row (0.7 s less for 1M rows)."""
    key = primary_key(conn, table) or [wanted[0].name]
    names, order_by = selected(wanted), idents(key)
    if is_partitioned(conn, table):
        statement = SQL.composed("select_day_table", columns=names, target=day_partition(table, partition).ident,
                                 order_by=order_by)
        return statement.as_string(conn), ()
    statement = SQL.composed("select_partition", columns=names, target=table.ident,
                             partition_column=sql.Identifier(partition_column), order_by=order_by)
    return statement.as_string(conn), (partition.isoformat(),)


def selected(columns: list[Column]) -> sql.Composed:
    """The select list of `columns`: a numeric column as its text (PostgreSQL's exact decimal spelling, cast
    to the Arrow decimal on arrival). ADBC's own decoding of binary numerics took 1.7 s for three columns of 1M
    rows, the server's text 0.5 s with the cast."""
    return sql.SQL(", ").join(
        sql.SQL("{0}::text AS {0}").format(sql.Identifier(c.name)) if pa.types.is_decimal(c.arrow_type)
        else sql.Identifier(c.name) for c in columns)


def partition_schema(conn: psycopg.Connection, table: TableName, columns: list[str] | None = None) -> pa.Schema:
    """The Arrow schema a read of `table` (its `columns`) gives."""
    known = table_columns(conn, table)
    return pa.schema([pa.field(c.name, c.arrow_type) for c in known if columns is None or c.name in columns])


@contextmanager
def partition_batches(conn: psycopg.Connection, fetch_batches: FetchBatches, table: TableName,
                      partition_column: str, partition: date,
                      columns: list[str] | None = None) -> Iterator[pa.RecordBatchReader]:
    """One partition as a stream of Arrow batches typed from the catalog (never all in memory), in key
    order; raises PartitionAbsent for a partition that was never loaded. A day this host just loaded is read
    from the file its load kept (day_spools), when that holds it as PostgreSQL would return it."""
    digest = loaded_digest(conn, table, partition)  # recorded by the loads of day-partitioned tables only
    if digest is None and not partition_loaded(conn, table, partition):
        raise PartitionAbsent(table, partition)
    wanted = _wanted(conn, table, columns)
    if digest is not None:
        with handed_day(day_identity(conn, str(table), partition.isoformat(), digest), wanted) as handed:
            if handed is not None:
                yield handed
                return
    statement, parameters = _partition_query(conn, table, partition_column, partition, wanted)
    schema = pa.schema([pa.field(c.name, c.arrow_type) for c in wanted])
    with fetch_batches(statement, parameters) as reader:
        def typed() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                yield pa.RecordBatch.from_arrays(
                    [_typed_column(pa.chunked_array([batch.column(c.name)]), c.arrow_type).combine_chunks()
                     for c in wanted], schema=schema)
        yield pa.RecordBatchReader.from_batches(schema, typed())


def _typed_column(column: pa.ChunkedArray, arrow_type: pa.DataType) -> pa.ChunkedArray:
    """ADBC hands jsonb (and numeric) over as extension types on text storage: cast from the storage; numerics
    arrive as text (`selected`) and are cast to their decimal type."""
    if isinstance(column.type, pa.BaseExtensionType):
        column = pa.chunked_array([chunk.storage for chunk in column.chunks], column.type.storage_type)
    return column if column.type == arrow_type else column.cast(arrow_type)
