"""The ODS rules of the catalog: raw snapshot rows -> typed ODS product rows and rejected records, in DuckDB."""

from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
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

# The rejected records' columns, in this order; `payload` is the verdicts' record_json.
REJECTED_COLUMNS: tuple[str, ...] = ("snapshot_date", "record_index", "product_id", "reason", "payload")


class _Tally:
    """The rules' verdicts on one snapshot besides the accepted rows: complete once those have been read."""

    def __init__(self) -> None:
        self.accepted_rows = 0
        self.rejected_parts: list[pa.Table] = []
        self.complete = False
        self._rejected: pa.Table | None = None

    def settled(self) -> "_Tally":
        if not self.complete:
            raise RuntimeError("the rules' verdicts are known once the accepted rows have been read: read "
                               "`accepted` to its end first")
        return self

    def rejected(self) -> pa.Table:
        if self.settled()._rejected is None:
            self._rejected = pa.concat_tables(self.rejected_parts).sort_by("record_index")
        return self._rejected


@dataclass(frozen=True)
class CheckedProducts:
    """What the rules made of one snapshot: the counts, the accepted ODS rows as a stream of batches (read once,
    in product_id order, while the rules' context is open; DuckDB may spill to disk, so a catalog never has to
    fit in memory) and, once that stream has been read, the rejected records with their reasons."""

    records: int
    duplicates: int
    new_fields: list[str]
    missing_fields: list[str]
    accepted: pa.RecordBatchReader
    _tally: _Tally

    @property
    def accepted_rows(self) -> int:
        return self._tally.settled().accepted_rows

    @property
    def rejected(self) -> pa.Table:
        """The rejected records (REJECTED_COLUMNS) in the snapshot's order."""
        return self._tally.rejected()

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(self.rejected.column("reason").to_pylist()).items()))


def accepted_in_order(con: duckdb.DuckDBPyConnection) -> str:
    """The query of the accepted rows in product_id order, from the rules' table. Records usually arrive in that
    order (the API pages by id), and then the table's own order — kept by DuckDB for a query without ORDER BY —
    is already it: the sort (0.6 s of 1M rows) is skipped for the same rows in the same order. One column read to
    know."""
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
    step recorded them (the schema-drift census), when it did.

    When the snapshot's ids strictly ascend (the API pages by id: the usual day), the rules stream — each record
    judged as its batch is read, the rejected ones set aside on the way — so the day is never held whole. Else
    (an id listed twice, ids out of order) the verdicts go to a table first, from which the accepted rows are read
    in product_id order."""
    con.execute("SET TimeZone = 'UTC'")
    local = isinstance(raw, pads.FileSystemDataset) and isinstance(raw.filesystem, pafs.LocalFileSystem)
    if local:
        # Local Parquet files: DuckDB's own reader streams them (a third of the memory of an Arrow scan).
        con.read_parquet(list(raw.files)).create_view("raw_records", replace=True)
    else:
        con.register("raw_records", raw)
    reader: pa.RecordBatchReader | None = None
    params = {"snapshot_date": snapshot_date}
    try:
        con.execute(SHARED_SQL.text("duckdb/rule_macros.sql"))
        # fetchall: a result left unfinished would block the stream below
        (records,), = con.execute("SELECT count(*) FROM raw_records").fetchall()
        # the census the raw step took as it wrote the snapshot, else one more parse of every record here
        keys = set(stored_keys) if stored_keys is not None else record_keys(con)
        tally = _Tally()
        tally.rejected_parts.append(_rejected_columns(
            con.sql(SQL.text("duckdb/products_without_id.sql"), params=params).to_arrow_table()))
        if _ascending(con, "SELECT product_id FROM raw_records WHERE product_id IS NOT NULL"):
            duplicates = 0  # ids that strictly ascend repeat none: no hash of every id (0.1 s of 1M) to count them
            reader = _judged_as_read(con, params)
            accepted = _streamed(reader, tally)
        else:
            (duplicates,), = con.execute(
                "SELECT count(product_id) - count(DISTINCT product_id) FROM raw_records").fetchall()
            reader = accepted = _judged_into_table(con, params, tally)
        yield CheckedProducts(
            records=int(records),
            duplicates=int(duplicates),
            new_fields=sorted(keys - CONTRACT_FIELDS),
            missing_fields=sorted(CONTRACT_FIELDS - keys) if records else [],
            accepted=accepted,
            _tally=tally,
        )
    finally:
        if reader is not None:
            reader.close()  # an unread stream (a write that failed first) would keep DuckDB's result open
        con.execute("DROP TABLE IF EXISTS ods_checked")
        con.execute("DROP VIEW IF EXISTS ods_records")
        if local:
            con.execute("DROP VIEW IF EXISTS raw_records")
        else:
            con.unregister("raw_records")


def _judged_as_read(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> pa.RecordBatchReader:
    """The verdicts on the records with an id, in the snapshot's order, as DuckDB reaches them (each id once: the
    caller checked that they strictly ascend)."""
    con.execute("CREATE OR REPLACE TEMP VIEW ods_records AS " + SQL.text("duckdb/products_with_id.sql"))
    return con.sql(SQL.text("duckdb/check_products.sql"), params=params).fetch_record_batch(BATCH_ROWS)


def _judged_into_table(con: duckdb.DuckDBPyConnection, params: dict[str, Any], tally: _Tally) -> pa.RecordBatchReader:
    """The verdicts on the records with an id — of an id listed twice, the later record — in the table
    `ods_checked`: `tally` completed from it, and the accepted rows read back in product_id order."""
    con.execute("CREATE OR REPLACE TEMP VIEW ods_records AS " + SQL.text("duckdb/products_each_id_once.sql"))
    con.execute("CREATE OR REPLACE TEMP TABLE ods_checked AS " + SQL.text("duckdb/check_products.sql"), params)
    tally.rejected_parts.append(_rejected_columns(
        con.sql("SELECT * FROM ods_checked WHERE reason IS NOT NULL").to_arrow_table()))
    (tally.accepted_rows,), = con.execute("SELECT count(*) FROM ods_checked WHERE reason IS NULL").fetchall()
    tally.complete = True
    return con.sql(accepted_in_order(con)).fetch_record_batch(BATCH_ROWS)


def _rejected_columns(verdicts: pa.Table | pa.RecordBatch) -> pa.Table:
    """The rejected records' columns of rows of the rules' verdicts."""
    table = verdicts if isinstance(verdicts, pa.Table) else pa.Table.from_batches([verdicts])
    return table.select([*REJECTED_COLUMNS[:-1], "record_json"]).rename_columns(list(REJECTED_COLUMNS))


def _streamed(reader: pa.RecordBatchReader, tally: _Tally) -> pa.RecordBatchReader:
    """The accepted rows of the verdicts `reader` streams (ODS_COLUMNS), the rejected ones set aside in `tally`,
    which is complete once the stream has been read to its end."""
    schema = pa.schema([reader.schema.field(name) for name in ODS_COLUMNS])
    order = StrictlyAscending()

    def accepted() -> Iterator[pa.RecordBatch]:
        for verdicts in reader:
            if not order.extend(verdicts.column("product_id")):  # the ids ascended in the snapshot, checked first
                raise RuntimeError("DuckDB returned the rules' verdicts out of the snapshot's order: the accepted "
                                   "rows would not be in product_id order")
            reason = verdicts.column("reason")
            kept = verdicts
            if reason.null_count < verdicts.num_rows:  # some rejected: the usual batch has none (no copy then)
                tally.rejected_parts.append(_rejected_columns(verdicts.filter(pc.is_valid(reason))))
                kept = verdicts.filter(pc.is_null(reason))
            tally.accepted_rows += kept.num_rows
            yield kept.select(list(ODS_COLUMNS))
        tally.complete = True

    return pa.RecordBatchReader.from_batches(schema, accepted())
