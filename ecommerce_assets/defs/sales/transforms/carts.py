"""The ODS rules of carts: raw cart records -> one typed row per line of every accepted cart, and every
rejected cart whole with its reason (DuckDB, no Dagster)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from ecommerce_assets.sql_files import SqlFiles

SQL = SqlFiles("ecommerce_assets.defs.sales")
SHARED_SQL = SqlFiles("ecommerce_assets.transforms")

LINE_COLUMNS: tuple[str, ...] = (
    "snapshot_date", "cart_id", "line_no", "user_id", "product_id", "title", "price", "quantity", "total",
    "discount_percentage", "discounted_total",
)
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class CheckedCarts:
    """What the rules made of one snapshot of carts: the counts, the rejected carts, the accepted lines (a
    stream, read once while the rules' context is open)."""

    records: int  # raw records
    carts: int  # accepted carts
    raw_lines: int  # lines listed by every raw record (duplicates included)
    superseded_lines: int  # lines of records superseded by a later record of the same cart
    accepted_lines: int
    rejected: pa.Table  # snapshot_date, record_index, cart_id, reason, lines, payload
    rejected_by_reason: dict[str, int]
    lines: pa.RecordBatchReader


@contextmanager
def checked_carts(con: duckdb.DuckDBPyConnection, raw: Any, snapshot_date: date) -> Iterator[CheckedCarts]:
    """Apply the cart rules to `raw` (Arrow, the raw snapshot's columns with `cart_id`)."""
    con.register("raw_records", raw)
    reader: pa.RecordBatchReader | None = None
    try:
        con.execute(SHARED_SQL.text("duckdb/rule_macros.sql"))
        con.execute("CREATE OR REPLACE TEMP TABLE carts_checked AS " + SQL.text("duckdb/check_carts.sql"),
                    {"snapshot_date": snapshot_date})
        rejected = con.sql(
            "SELECT snapshot_date, record_index, cart_id, reason, lines, record_json AS payload "
            "FROM carts_checked WHERE reason IS NOT NULL ORDER BY record_index").to_arrow_table()
        (records, raw_lines, superseded_lines), = con.execute(SQL.text("duckdb/raw_lines.sql")).fetchall()
        (carts, accepted_lines), = con.execute(
            "SELECT count(DISTINCT cart_id), count(*) FROM carts_checked WHERE reason IS NULL").fetchall()
        reasons = dict(con.execute("SELECT reason, count(*) FROM carts_checked WHERE reason IS NOT NULL "
                                   "GROUP BY reason ORDER BY reason").fetchall())
        reader = con.sql(f"SELECT {', '.join(LINE_COLUMNS)} FROM carts_checked WHERE reason IS NULL "
                         "ORDER BY cart_id, line_no").fetch_record_batch(BATCH_ROWS)
        yield CheckedCarts(
            records=int(records), carts=int(carts), raw_lines=int(raw_lines),
            superseded_lines=int(superseded_lines),
            accepted_lines=int(accepted_lines), rejected=rejected,
            rejected_by_reason={str(k): int(v) for k, v in reasons.items()}, lines=reader,
        )
    finally:
        if reader is not None:
            reader.close()
        con.execute("DROP TABLE IF EXISTS carts_checked")
        con.unregister("raw_records")
