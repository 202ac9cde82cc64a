"""Tables that are not partitioned by day: a partition's rows are staged and merged by primary key in one
transaction — unchanged rows untouched, rows gone deleted."""

from datetime import date

import psycopg
from psycopg import sql

from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.warehouse.days import LoadStats
from ecommerce_assets.warehouse.stages import Stage, drop_stage
from ecommerce_assets.warehouse.tables import Column, idents, primary_key, table_columns

SQL = SqlFiles("ecommerce_assets.warehouse")


def _typed(columns: list[Column], names: list[str]) -> sql.Composed:
    types = {c.name: c.sql_type for c in columns}
    return sql.SQL(", ").join(
        sql.SQL("CAST(s.{} AS {})").format(sql.Identifier(n), sql.SQL(types[n])) for n in names  # type from the catalog
    )


def merge_partition(conn: psycopg.Connection, stage: Stage, partition_column: str, partition: date,
                    given: list[str]) -> LoadStats:
    """Make the target's partition equal the stage's `given` columns: upsert by primary key (unchanged rows
    untouched), delete the partition's other rows, drop the stage."""
    table = stage.target
    key = primary_key(conn, table)
    if not key or partition_column not in key:
        raise ValueError(f"{table} needs a primary key that includes {partition_column}")
    columns = table_columns(conn, table)
    unknown = set(given) - {c.name for c in columns}
    if unknown:
        raise ValueError(f"{table} has no columns {sorted(unknown)}")
    compared = [c for c in given if c not in key]
    audit = [c.name for c in columns if c.name not in given and c.has_default]  # loaded_at and the like
    partition_has_rows = conn.execute(
        SQL.composed("partition_has_rows", target=table.ident, partition_column=sql.Identifier(partition_column)),
        {"partition": partition}).fetchone()
    if not (partition_has_rows and partition_has_rows[0]):
        # A first load: nothing to conflict with or delete, a plain INSERT does.
        inserted = conn.execute(SQL.composed("insert_from_stage", target=table.ident, stage=stage.ident,
                                             columns=idents(given), typed_columns=_typed(columns, given))).rowcount
        drop_stage(conn, stage)
        return LoadStats(inserted=max(inserted, 0), updated=0, unchanged=0, deleted=0)
    assignments = [sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in compared]
    assignments += [sql.SQL("{c} = DEFAULT").format(c=sql.Identifier(c)) for c in audit]
    if not assignments:
        raise ValueError(f"{table}: nothing to update besides the key")
    merged = conn.execute(SQL.composed(
        "merge_partition",
        target=table.ident,
        stage=stage.ident,
        columns=idents(given),
        typed_columns=_typed(columns, given),
        key_columns=idents(key),
        assignments=sql.SQL(", ").join(assignments),
        target_values=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in compared) if compared else sql.SQL("NULL"),
        excluded_values=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in compared) if compared else sql.SQL("NULL"),
    )).fetchone()
    inserted, updated = (int(merged[0]), int(merged[1])) if merged else (0, 0)
    deleted = conn.execute(SQL.composed(
        "delete_missing",
        target=table.ident,
        stage=stage.ident,
        partition_column=sql.Identifier(partition_column),
        key_match=sql.SQL(" AND ").join(sql.SQL("s.{c} = t.{c}").format(c=sql.Identifier(c)) for c in key),
    ), {"partition": partition}).rowcount
    drop_stage(conn, stage)
    return LoadStats(inserted=inserted, updated=updated, unchanged=stage.rows - inserted - updated,
                     deleted=max(deleted, 0))
