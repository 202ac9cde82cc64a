"""The ODS rules of the catalog: raw snapshot rows -> typed ODS product rows and rejected records, in DuckDB."""

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.transforms.order import StrictlyAscending
from ecommerce_assets.transforms.raw_snapshot import record_keys

SQL = SqlFiles("ecommerce_assets.defs.products")
SHARED_SQL = SqlFiles("ecommerce_assets.transforms")  # the rule macros every domain's rules use

# The documented record contract (DummyJSON's product); other fields are reported as schema drift.
CONTRACT_FIELDS: frozenset[str] = frozenset({
    "id", "title", "description", "category", "price", "discountPercentage", "rating", "stock", "tags",
    "brand", "sku", "weight", "dimensions", "warrantyInformation", "shippingInformation",
    "availabilityStatus", "reviews", "returnPolicy", "minimumOrderQuantity", "meta", "images", "thumbnail",
})

ODS_COLUMNS: tuple[str, ...] = (
    "snapshot_date", "product_id", "title", "description", "category", "brand", "sku", "price",
    "discount_percentage", "rating", "stock", "availability_status", "tags", "weight",
    "minimum_order_quantity", "created_at", "updated_at",
)


BATCH_ROWS = 16_384  # accepted rows come out of DuckDB in batches of this many (the COPY's batch size)


@dataclass(frozen=True)
class CheckedProducts:
    """What the rules made of one snapshot: the counts, the rejected records with their reasons, and the
    accepted ODS rows as a stream of batches (read once, in product_id order; DuckDB may spill to disk,
    so a catalog never has to fit in memory)."""

    accepted_rows: int
    rejected: pa.Table
    records: int
    duplicates: int
    rejected_by_reason: dict[str, int]
    new_fields: list[str]
    missing_fields: list[str]
    accepted: pa.RecordBatchReader  # read once, while the rules' context is open


def accepted_in_order(con: duckdb.DuckDBPyConnection) -> str:
    """The query of the accepted rows in product_id order. Records usually arrive in that order (the API pages
    by id), and then the table's own order — kept by DuckDB for a query without ORDER BY — is already it: the
    sort (0.6 s of 1M rows) is skipped for the same rows in the same order. One column read to know."""
    query = f"SELECT {', '.join(ODS_COLUMNS)} FROM ods_checked WHERE reason IS NULL"
    return query if _ascending(con, "SELECT product_id FROM ods_checked WHERE reason IS NULL") else \
        query + " ORDER BY product_id"


def _ascending(con: duckdb.DuckDBPyConnection, ids_query: str) -> bool:
    """Whether the ids `ids_query` gives (one column, no NULL) strictly ascend, read a batch at a time."""
    reader = con.sql(ids_query).fetch_record_batch(BATCH_ROWS)
    try:
        order = StrictlyAscending()
        return all(order.extend(batch.column(0)) for batch in reader)
    finally:
        reader.close()  # a result left unread would block the next query's stream


@contextmanager
def checked_products(con: duckdb.DuckDBPyConnection, raw: Any, snapshot_date: date,
                     stored_keys: Collection[str] | None = None) -> Iterator[CheckedProducts]:
    """Apply the ODS rules to `raw` (an Arrow table or dataset with the raw snapshot columns); the accepted
    rows stream from DuckDB while the context is open. `stored_keys`: the records' top-level keys as the raw
    step recorded them (the schema-drift census), when it did."""
    con.execute("SET TimeZone = 'UTC'")
    local = isinstance(raw, pads.FileSystemDataset) and isinstance(raw.filesystem, pafs.LocalFileSystem)
    if local:
        # Local Parquet files: DuckDB's own reader streams them (a third of the memory of an Arrow scan).
        con.read_parquet(list(raw.files)).create_view("raw_records", replace=True)
    else:
        con.register("raw_records", raw)
    reader: pa.RecordBatchReader | None = None
    try:
        con.execute(SHARED_SQL.text("duckdb/rule_macros.sql"))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ods_checked AS " + SQL.text("duckdb/check_products.sql"),
            {"snapshot_date": snapshot_date},
        )
        rejected = con.sql(
            "SELECT snapshot_date, record_index, product_id, reason, record_json AS payload "
            "FROM ods_checked WHERE reason IS NOT NULL ORDER BY record_index"
        ).to_arrow_table()
        (records, duplicates), = con.execute(  # fetchall: a result left unfinished blocks the stream below
            "SELECT count(*), count(product_id) - count(DISTINCT product_id) FROM raw_records"
        ).fetchall()
        reasons = dict(con.execute(
            "SELECT reason, count(*) FROM ods_checked WHERE reason IS NOT NULL GROUP BY reason ORDER BY reason"
        ).fetchall())
        # the census the raw step took as it wrote the snapshot, else one more parse of every record here
        keys = set(stored_keys) if stored_keys is not None else record_keys(con)
        (accepted_rows,), = con.execute("SELECT count(*) FROM ods_checked WHERE reason IS NULL").fetchall()
        reader = con.sql(accepted_in_order(con)).fetch_record_batch(BATCH_ROWS)
        yield CheckedProducts(
            accepted_rows=int(accepted_rows),
            rejected=rejected,
            records=int(records),
            duplicates=int(duplicates),
            rejected_by_reason={str(k): int(v) for k, v in reasons.items()},
            new_fields=sorted(keys - CONTRACT_FIELDS),
            missing_fields=sorted(CONTRACT_FIELDS - keys) if records else [],
            accepted=reader,
        )
    finally:
        if reader is not None:
            reader.close()  # an unread stream (a write that failed first) would keep DuckDB's result open
        con.execute("DROP TABLE IF EXISTS ods_checked")
        if local:
            con.execute("DROP VIEW IF EXISTS raw_records")
        else:
            con.unregister("raw_records")
