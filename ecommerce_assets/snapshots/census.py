"""The schema-drift census of a snapshot — the top-level keys its records use — taken by the raw step while it
writes (each row group on the lake's writing thread, whose DuckDB leaves the fetch's threads their GIL), kept
in the snapshot's Parquet footer and read back by the rules downstream instead of parsing every record again."""

import json
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads

from ecommerce_assets.lake import objects
from ecommerce_assets.transforms.raw_snapshot import record_keys

RECORD_KEYS_KEY = "record_keys"  # the footer's entry: a JSON list of the keys, sorted


class KeyCensus:
    """The keys of every row group handed to `add`, on one DuckDB connection used by one thread at a time."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.keys: set[str] = set()

    def add(self, group: pa.Table) -> None:
        self.con.register("raw_records", group.select(["record_json"]))
        try:
            self.keys |= record_keys(self.con)
        finally:
            self.con.unregister("raw_records")

    def footer(self) -> dict[str, str]:
        return {RECORD_KEYS_KEY: json.dumps(sorted(self.keys), ensure_ascii=False)}


def stored_record_keys(raw: Any) -> list[str] | None:
    """The census a snapshot's footer holds, for a snapshot read as a dataset of one Parquet file; None when it
    holds none (stored before censuses were recorded, or dropped into the lake by another system)."""
    if not isinstance(raw, pads.FileSystemDataset) or len(raw.files) != 1:
        return None
    value = objects.footer(raw.filesystem, raw.files[0])[1].get(RECORD_KEYS_KEY)
    if value is None:
        return None
    keys = json.loads(value)
    return [str(k) for k in keys] if isinstance(keys, list) else None
