"""Raw snapshot rows -> typed ODS product rows and rejected records, in DuckDB."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from ecommerce_assets.sql import load_sql

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


@dataclass(frozen=True)
class CleanedProducts:
    """The ODS rows of one snapshot, the records rejected with their reasons, and what was seen."""

    accepted: pa.Table
    rejected: pa.Table
    records: int
    duplicates: int
    rejected_by_reason: dict[str, int]
    new_fields: list[str] = field(default_factory=list)
    missing_fields: list[str] = field(default_factory=list)

    @property
    def rejected_share(self) -> float:
        decided = self.accepted.num_rows + self.rejected.num_rows
        return self.rejected.num_rows / decided if decided else 0.0


def clean_products(con: duckdb.DuckDBPyConnection, raw: Any, snapshot_date: date) -> CleanedProducts:
    """Apply the ODS rules to `raw` (an Arrow table or dataset with the raw snapshot columns)."""
    con.execute("SET TimeZone = 'UTC'")
    local = isinstance(raw, pads.FileSystemDataset) and isinstance(raw.filesystem, pafs.LocalFileSystem)
    if local:
        # Local Parquet files: DuckDB's own reader streams them (a third of the memory of an Arrow scan).
        con.read_parquet(list(raw.files)).create_view("raw_records", replace=True)
    else:
        con.register("raw_records", raw)
    try:
        con.execute(load_sql("ods/macros.sql"))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ods_checked AS " + load_sql("ods/check_products.sql"),
            {"snapshot_date": snapshot_date},
        )
        accepted = con.sql(
            f"SELECT {', '.join(ODS_COLUMNS)} FROM ods_checked WHERE reason IS NULL ORDER BY product_id"
        ).to_arrow_table()
        rejected = con.sql(
            "SELECT snapshot_date, record_index, product_id, reason, record_json AS payload "
            "FROM ods_checked WHERE reason IS NOT NULL ORDER BY record_index"
        ).to_arrow_table()
        records, duplicates = con.execute(
            "SELECT count(*), count(product_id) - count(DISTINCT product_id) FROM raw_records"
        ).fetchone() or (0, 0)
        reasons = dict(con.execute(
            "SELECT reason, count(*) FROM ods_checked WHERE reason IS NOT NULL GROUP BY reason ORDER BY reason"
        ).fetchall())
        keys = Counter(dict(con.execute(
            "SELECT key, count(*) FROM (SELECT unnest(json_keys(record_json)) AS key FROM raw_records "
            "WHERE json_valid(record_json) AND json_type(record_json) = 'OBJECT') GROUP BY key"
        ).fetchall()))
        con.execute("DROP TABLE ods_checked")
    finally:
        if local:
            con.execute("DROP VIEW IF EXISTS raw_records")
        else:
            con.unregister("raw_records")
    return CleanedProducts(
        accepted=accepted,
        rejected=rejected,
        records=int(records),
        duplicates=int(duplicates),
        rejected_by_reason={str(k): int(v) for k, v in reasons.items()},
        new_fields=sorted(set(keys) - CONTRACT_FIELDS),
        missing_fields=sorted(CONTRACT_FIELDS - set(keys)) if records else [],
    )
