"""ODS product rows of one day -> the per-category mart rows, in DuckDB."""

from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from ecommerce_assets.sql_files import SqlFiles

SQL = SqlFiles("ecommerce_assets.defs.products")

MART_INPUT_COLUMNS: tuple[str, ...] = ("product_id", "category", "price", "stock", "rating", "discount_percentage")
NO_PRICE_CHANGES = pa.table({"product_id": pa.array([], pa.int64())})


def build_mart(con: duckdb.DuckDBPyConnection, ods_products: Any, report_date: date,
               price_changed: pa.Table = NO_PRICE_CHANGES) -> pa.Table:
    """Per (report_date, category): product_count, total_stock, avg_price, avg_rating, out_of_stock_count,
    inventory_value, avg_discount_pct and price_changes (`price_changed`: product ids whose price moved)."""
    con.register("ods_products", ods_products)
    con.register("price_changed", price_changed)
    try:
        return con.sql(SQL.text("duckdb/fct_ecommerce.sql"), params={"report_date": report_date}).to_arrow_table()
    finally:
        con.unregister("ods_products")
        con.unregister("price_changed")


def mart_markdown(mart: pa.Table, limit: int = 50) -> str:
    """The mart rows as a markdown table for the Dagster UI."""
    columns = [c for c in mart.column_names if c != "report_date"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in mart.slice(0, limit).to_pylist():
        lines.append("| " + " | ".join("" if row[c] is None else str(row[c]) for c in columns) + " |")
    if mart.num_rows > limit:
        lines.append(f"\n… {mart.num_rows - limit} more rows")
    return "\n".join(lines)
