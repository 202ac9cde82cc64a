"""Records as received -> rows of a raw snapshot (one row per record, its JSON kept whole), for any paginated
endpoint of the API (`/products`, `/carts`, `/users`: the records under the key named like the endpoint)."""

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import duckdb
import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from ecommerce_assets.sql_files import SqlFiles

SQL = SqlFiles("ecommerce_assets.transforms")


class PageShapeError(Exception):
    """A JSON answer that is not a page of the endpoint (no list of records, no integer `total`)."""


@dataclass(frozen=True)
class ParsedPage:
    """What a parser made of one answer: the API's `total`, the number of records and the records
    (an Arrow table of (record_id, record_json) rows)."""

    total: int
    count: int
    records: pa.Table


# A parser turns a response body into a ParsedPage; it raises ValueError for a body that is not valid
# JSON (asked for again) and PageShapeError for JSON that is not a page of the endpoint (not asked again).
PageParser = Callable[[bytes], ParsedPage]


def check_records(records: Any, key: str) -> list[Any]:
    if not isinstance(records, list):
        raise PageShapeError(f"the answer has no `{key}` list")
    return records


def check_total(total: Any) -> int:
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise PageShapeError(f"the answer's `total` is not a non-negative integer: {total!r}")
    return total

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_RECORDS_KEY = re.compile(r"[a-z][a-z_]*")


def raw_schema(id_column: str) -> pa.Schema:
    """The columns of a raw snapshot whose records' ids are kept in `id_column`."""
    return pa.schema(
        [
            pa.field("record_index", pa.int64(), nullable=False),  # position in the whole fetch: later wins
            pa.field(id_column, pa.int64()),                        # the record's `id` when it is an integer
            pa.field("skip", pa.int64(), nullable=False),           # the request's skip
            pa.field("fetched_at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("source_url", pa.string(), nullable=False),
            pa.field("record_json", pa.large_string(), nullable=False),
        ]
    )


RAW_SCHEMA = raw_schema("product_id")  # the products' snapshot


def integer_id(record: Any) -> int | None:
    """The record's id when it is a JSON integer that fits BIGINT (a boolean is not an id)."""
    return integer_id_value(record.get("id")) if isinstance(record, dict) else None


def record_json(record: Any) -> str:
    """The record as JSON text, key order and value types preserved; lone surrogates are escaped."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(record, ensure_ascii=True, separators=(",", ":"))
    return text


RECORD_SCHEMA = pa.schema([pa.field("record_id", pa.int64()), RAW_SCHEMA.field("record_json")])


def records_table(records: Sequence[Any]) -> pa.Table:
    """Parsed records as (record_id, record_json) rows, in Python."""
    return pa.table([pa.array([integer_id(r) for r in records], pa.int64()),
                     pa.array([record_json(r) for r in records], pa.large_string())], schema=RECORD_SCHEMA)


def _records_key(key: str) -> str:
    if not _RECORDS_KEY.fullmatch(key):
        raise ValueError(f"not a records key: {key!r}")
    return key


class DuckDBPageParser:
    """Parses a page's body with DuckDB's JSON reader, straight to (record_id, record_json) rows: no Python
    object per record. Bodies DuckDB's reader refuses but Python's accepts (a lone surrogate escape, say)
    take the standard library's path, so no record is lost to the fast path."""

    def __init__(self, con: duckdb.DuckDBPyConnection, records_key: str = "products") -> None:
        self.con = con
        self.records_key = _records_key(records_key)
        # the key is a validated name, part of the JSON path (a path given as a parameter is not planned once)
        self.statement = SQL.text("duckdb/parse_page.sql").replace("$.records", f"$.{self.records_key}")

    def __call__(self, body: bytes) -> ParsedPage:
        try:
            text = body.decode("utf-8")
            result = self.con.sql(self.statement, params={"body": text}).to_arrow_table()
        except (UnicodeDecodeError, duckdb.Error):
            return self._python(body)
        doc_type, total_type, total = (result.column(c)[0].as_py() for c in ("doc_type", "total_type", "total"))
        if doc_type != "OBJECT":
            raise PageShapeError(f"the answer is JSON {str(doc_type).lower()}, not an object")
        if result.column("records_type")[0].as_py() != "ARRAY":
            raise PageShapeError(f"the answer has no `{self.records_key}` list")
        if total_type not in ("BIGINT", "UBIGINT"):
            raise PageShapeError(f"the answer's `total` is not a non-negative integer: {total!r}")
        rows = pa.Table.from_struct_array(result.column("records").combine_chunks().flatten())
        rows = rows.cast(RECORD_SCHEMA)
        return ParsedPage(total=check_total(int(total)), count=rows.num_rows, records=rows)

    def _python(self, body: bytes) -> ParsedPage:
        # Bytes that are not UTF-8 stay in the record as surrogate escapes (kept verbatim in raw, rejected
        # as invalid text by the ODS) instead of failing the whole page. ValueError: not JSON, asked again.
        parsed = json.loads(body.decode("utf-8", "surrogateescape"))
        if not isinstance(parsed, dict):
            raise PageShapeError(f"the answer is JSON {type(parsed).__name__}, not an object")
        records = check_records(parsed.get(self.records_key), self.records_key)
        return ParsedPage(total=check_total(parsed.get("total")), count=len(records), records=records_table(records))


# Decoded records never form reference cycles, so their structs stay out of the garbage collector: a million of
# them per catalog would otherwise set off its collections, under the GIL the fetching threads share.
class _IdOnly(msgspec.Struct, gc=False):
    id: Any = None


_ID_ONLY = msgspec.json.Decoder(_IdOnly)


@cache
def _page_decoders(records_key: str) -> tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]:
    """Decoders of a page whose records are under `records_key`: one keeping each record as the exact bytes
    it was sent as (and `total`), one reading only the records' ids."""
    records_page = msgspec.defstruct("RecordsPage", [(records_key, list[msgspec.Raw]), ("total", int)], gc=False)
    ids_page = msgspec.defstruct("IdsPage", [(records_key, list[_IdOnly])], gc=False)
    return msgspec.json.Decoder(records_page), msgspec.json.Decoder(ids_page)


class MsgspecPageParser:
    """The fast path: msgspec splits a page into each record's exact text (as sent, no re-serialization) and
    reads the ids, without a Python object per field. A page it refuses — not JSON, not UTF-8, a lone
    surrogate escape, a `total` that is not an integer — goes to `fallback` (DuckDB's reader, then the
    standard library), which gives the same records (as JSON values; their text re-serialized) or the same
    error."""

    def __init__(self, fallback: PageParser, records_key: str = "products") -> None:
        self.fallback = fallback
        self.records_key = _records_key(records_key)
        self._records_page, self._ids_page = _page_decoders(self.records_key)

    def __call__(self, body: bytes) -> ParsedPage:
        try:
            page = self._records_page.decode(body)
            records = getattr(page, self.records_key)
            texts = pa.array([bytes(record) for record in records], pa.large_binary()).cast(pa.large_string())
        except (msgspec.DecodeError, pa.ArrowInvalid):
            return self.fallback(body)
        total = check_total(page.total)
        try:
            ids = [integer_id_value(record.id) for record in getattr(self._ids_page.decode(body), self.records_key)]
        except msgspec.DecodeError:  # a record that is not an object, or an id beyond what msgspec reads
            ids = [_record_id(record) for record in records]
        rows = pa.table([pa.array(ids, pa.int64()), texts], schema=RECORD_SCHEMA)
        return ParsedPage(total=total, count=rows.num_rows, records=rows)


def page_parser(con: duckdb.DuckDBPyConnection, records_key: str = "products") -> PageParser:
    """The pipeline's parser: msgspec, then DuckDB's reader on `con`, then the standard library."""
    return MsgspecPageParser(fallback=DuckDBPageParser(con, records_key), records_key=records_key)


def record_keys(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The schema-drift census: the top-level keys the records of the view `raw_records` use."""
    return {str(key) for (key,) in con.execute(SQL.text("duckdb/record_keys.sql")).fetchall() if key is not None}


def integer_id_value(value: Any) -> int | None:
    """`value` when it is a JSON integer that fits BIGINT (a boolean is not an id)."""
    if isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX:
        return value
    return None


def _record_id(record: msgspec.Raw) -> int | None:
    try:
        return integer_id_value(_ID_ONLY.decode(record).id)
    except msgspec.DecodeError:  # not an object, or an id msgspec cannot hold: the standard library reads it
        return integer_id(json.loads(bytes(record)))


def _later_occurrences(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Every occurrence of an id after its first, ascending. By sorting: about three times the ids' own
    memory (a hash of 5M ids took 900 MB, sorting 120 MB)."""
    values = ids.drop_null()
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    ordered = values.take(pc.sort_indices(values))
    if len(ordered) < 2:
        return ordered.slice(0, 0)
    same_as_previous = pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1))
    return ordered.slice(1).filter(same_as_previous)


def repeated_ids(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The ids that occur more than once, ascending, each once."""
    return pc.unique(_later_occurrences(ids))


def superseded_count(ids: pa.Array | pa.ChunkedArray) -> int:
    """How many records a later record with the same id replaces (later wins): the occurrences after the first."""
    return len(_later_occurrences(ids))


def _one_array(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array: its only chunk as it is (a parsed page's usual case; combining copies even one
    chunk, under the GIL the fetching threads share), else its chunks combined."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def page_batch(rows: pa.Table, *, first_index: int, skip: int, fetched_at: datetime, source_url: str,
               schema: pa.Schema = RAW_SCHEMA) -> pa.RecordBatch:
    """A parsed page's (record_id, record_json) rows as raw snapshot rows of `schema`."""
    n = rows.num_rows
    return pa.RecordBatch.from_arrays(
        [
            pa.array(range(first_index, first_index + n), pa.int64()),
            _one_array(rows.column("record_id")),
            pa.repeat(pa.scalar(skip, pa.int64()), n),  # one value per page: no Python object per row
            pa.repeat(pa.scalar(fetched_at, pa.timestamp("us", tz="UTC")), n),
            pa.repeat(pa.scalar(source_url, pa.string()), n),
            _one_array(rows.column("record_json")),
        ],
        schema=schema,
    )
