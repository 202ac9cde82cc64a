"""The ODS rules of users, on the raw layer's reduced records: one typed row per accepted user, and the
rejected ones with their reason only (DuckDB, no Dagster)."""

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from ecommerce_assets.sql_files import SqlFiles

SQL = SqlFiles("ecommerce_assets.defs.sales")
SHARED_SQL = SqlFiles("ecommerce_assets.transforms")

CUSTOMER_COLUMNS: tuple[str, ...] = (
    "snapshot_date", "user_id", "customer_key", "age", "gender", "role", "city", "state", "country",
)


@dataclass(frozen=True)
class CheckedCustomers:
    records: int
    duplicates: int
    accepted: pa.Table  # the day's users (a few hundred thousand rows at most: held whole)
    rejected: pa.Table  # snapshot_date, record_index, user_id, reason
    rejected_by_reason: dict[str, int]


def checked_customers(con: duckdb.DuckDBPyConnection, raw: Any, snapshot_date: date) -> CheckedCustomers:
    con.register("raw_records", raw)
    try:
        con.execute(SHARED_SQL.text("duckdb/rule_macros.sql"))
        con.execute("CREATE OR REPLACE TEMP TABLE customers_checked AS " + SQL.text("duckdb/check_customers.sql"),
                    {"snapshot_date": snapshot_date})
        (records, duplicates), = con.execute(
            "SELECT count(*), count(user_id) - count(DISTINCT user_id) FROM raw_records").fetchall()
        accepted = con.sql(f"SELECT {', '.join(CUSTOMER_COLUMNS)} FROM customers_checked WHERE reason IS NULL "
                           "ORDER BY user_id").to_arrow_table()
        rejected = con.sql("SELECT snapshot_date, record_index, user_id, reason FROM customers_checked "
                           "WHERE reason IS NOT NULL ORDER BY record_index").to_arrow_table()
        reasons = dict(con.execute("SELECT reason, count(*) FROM customers_checked WHERE reason IS NOT NULL "
                                   "GROUP BY reason ORDER BY reason").fetchall())
        return CheckedCustomers(int(records), int(duplicates), accepted, rejected,
                                {str(k): int(v) for k, v in reasons.items()})
    finally:
        con.execute("DROP TABLE IF EXISTS customers_checked")
        con.unregister("raw_records")
