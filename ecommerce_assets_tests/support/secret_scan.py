"""Where a value could have been stored, looked at for planted markers: every object of the bucket (Parquet
read back value by value, and its bytes), every row of every table of the database (warehouse and Dagster's
instance storage: runs, event log, metadata), every file under the given folders (logs, compute logs), and
any text (a terminal's output), and the uploaded files the lake keeps for their next reader."""

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
from psycopg import sql

from ecommerce_assets.lake import LakeResource


@dataclass
class Found:
    """Which markers were found where."""

    places: dict[str, set[str]] = field(default_factory=dict)  # marker -> places

    def add(self, marker: str, place: str) -> None:
        self.places.setdefault(marker, set()).add(place)

    def of(self, pattern: str) -> dict[str, set[str]]:
        return {marker: places for marker, places in self.places.items() if re.search(pattern, marker)}


def _search(text: str, markers: re.Pattern[str], place: str, found: Found) -> None:
    for marker in set(markers.findall(text)):
        found.add(marker, place)


def scan_lake(lake: LakeResource, markers: re.Pattern[str], found: Found) -> int:
    """Every object: its bytes, and for Parquet every value of every column (compression hides bytes)."""
    client = lake.get_client()
    objects = 0
    for key, _, _ in lake.objects(""):
        objects += 1
        _scan_object(client.get_object(Bucket=lake.bucket, Key=key)["Body"].read(), f"s3://{lake.bucket}/{key}",
                     markers, found)
    return objects


def scan_parquet_files(folder: Path, markers: re.Pattern[str], found: Found) -> int:
    """Every file under `folder` (the lake's hand-off of uploaded spools, say) as scan_lake scans an object; a
    file taken meanwhile by a reader is skipped."""
    files = 0
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        try:
            if not path.is_file():
                continue
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        files += 1
        _scan_object(data, f"file {path}", markers, found)
    return files


def _scan_object(data: bytes, place: str, markers: re.Pattern[str], found: Found) -> None:
    """An object's bytes, and for Parquet every value of every column (compression hides bytes)."""
    _search(data.decode("utf-8", "replace"), markers, place, found)
    if data[:4] == b"PAR1":
        table = pq.read_table(io.BytesIO(data))
        _search(str(table.schema.metadata or {}), markers, place + " (footer)", found)
        for name in table.column_names:
            for value in table.column(name).to_pylist():
                if value is not None:
                    _search(str(value), markers, f"{place} column {name}", found)


def scan_database(dsn: str, markers: re.Pattern[str], found: Found) -> int:
    """Every row of every table and materialized view outside PostgreSQL's own schemas, as JSON text."""
    tables = 0
    with psycopg.connect(dsn) as conn:
        relations = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'").fetchall()
        for schema, name in relations:
            tables += 1
            query = sql.SQL("SELECT row_to_json(t)::text FROM {}.{} AS t").format(sql.Identifier(schema),
                                                                                sql.Identifier(name))
            for (text,) in conn.execute(query):
                _search(text, markers, f"table {schema}.{name}", found)
    return tables


def scan_files(folders: Iterable[Path], markers: re.Pattern[str], found: Found) -> int:
    files = 0
    for folder in folders:
        for path in [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file()):
            files += 1
            _search(path.read_bytes().decode("utf-8", "replace"), markers, f"file {path}", found)
    return files


def scan_text(text: str, place: str, markers: re.Pattern[str], found: Found) -> None:
    _search(text, markers, place, found)
