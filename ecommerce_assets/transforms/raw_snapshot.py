"""Records as received -> rows of the raw snapshot (one row per record, its JSON kept whole)."""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

RAW_SCHEMA = pa.schema(
    [
        pa.field("record_index", pa.int64(), nullable=False),  # position in the whole fetch: later wins
        pa.field("product_id", pa.int64()),                     # the record's `id` when it is an integer
        pa.field("skip", pa.int64(), nullable=False),           # the request's skip
        pa.field("fetched_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("source_url", pa.string(), nullable=False),
        pa.field("record_json", pa.large_string(), nullable=False),
    ]
)


def integer_id(record: Any) -> int | None:
    """The record's id when it is a JSON integer that fits BIGINT (a boolean is not an id)."""
    if not isinstance(record, dict):
        return None
    value = record.get("id")
    if isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX:
        return value
    return None


def record_json(record: Any) -> str:
    """The record as JSON text, key order and value types preserved; lone surrogates are escaped."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(record, ensure_ascii=True, separators=(",", ":"))
    return text


def records_to_batch(records: Sequence[Any], *, first_index: int, skip: int, fetched_at: datetime,
                     source_url: str) -> pa.RecordBatch:
    """One page of records as raw snapshot rows, whatever the records contain."""
    n = len(records)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(range(first_index, first_index + n), pa.int64()),
            pa.array([integer_id(r) for r in records], pa.int64()),
            pa.array([skip] * n, pa.int64()),
            pa.array([fetched_at] * n, pa.timestamp("us", tz="UTC")),
            pa.array([source_url] * n, pa.string()),
            pa.array([record_json(r) for r in records], pa.large_string()),
        ],
        schema=RAW_SCHEMA,
    )
