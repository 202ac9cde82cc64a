"""The fetch of one snapshot as a stream of raw rows: pages in order, progress logged, torn snapshots refused."""

import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from dagster import DagsterLogManager
from dagster_duckdb import DuckDBResource

from ecommerce_assets.resources.catalog_api import CatalogClient, CatalogFetchError
from ecommerce_assets.snapshots.endpoint import Endpoint
from ecommerce_assets.transforms.raw_snapshot import page_batch, page_parser

PROGRESS_EVERY_SECONDS = 5.0


@dataclass
class FetchStats:
    records: int = 0
    pages: int = 0
    total: int | None = None
    body_bytes: int = 0
    started: float = field(default_factory=time.monotonic)
    last_ids: pa.Array | None = None  # the last page's ids, which the next page must not repeat

    def summary(self) -> dict[str, Any]:
        seconds = time.monotonic() - self.started
        return {
            "records": self.records,
            "api_total": self.total if self.total is not None else 0,
            "pages": self.pages,
            "response_bytes": self.body_bytes,
            "duration_seconds": round(seconds, 3),
            "records_per_second": round(self.records / seconds, 1) if seconds > 0 else 0.0,
        }


def snapshot_batches(endpoint: Endpoint, client: CatalogClient, duckdb: DuckDBResource, stats: FetchStats,
                     log: DagsterLogManager, keep: Callable[[pa.Table], pa.Table] | None = None) -> Iterator[pa.RecordBatch]:
    """Pages of the endpoint as raw rows, logging progress; raises before the last batch if torn. `keep` turns
    each page's records into what is kept (a personal endpoint's reduction) before anything else sees them.
    Runs while the lake writes, so it owns its DuckDB connection and the HTTP session."""
    last_log = time.monotonic()
    schema = endpoint.schema
    with duckdb.get_connection() as con, closing(client):
        # each fetching thread parses with a connection of its own (DuckDB connections are not shared)
        for page in client.iter_pages(endpoint.path, new_parser=lambda: page_parser(con.cursor(), endpoint.path)):
            records = keep(page.records) if keep is not None else page.records
            batch = page_batch(records, first_index=stats.records, skip=page.skip, fetched_at=page.fetched_at,
                               source_url=page.url, schema=schema)
            ids = batch.column(endpoint.id_column)
            last = stats.last_ids
            if last is not None and len(ids) and ids.null_count < len(ids) and ids.equals(last):
                raise CatalogFetchError(
                    f"the page at skip={page.skip} repeats the previous page's records (ids "
                    f"{ids[0].as_py()}..{ids[-1].as_py()}): the API is paging wrongly; not storing a torn snapshot"
                )
            stats.last_ids = ids
            yield batch
            stats.records += page.count
            stats.pages += 1
            stats.total = page.total
            stats.body_bytes += page.body_bytes
            now = time.monotonic()
            if now - last_log >= PROGRESS_EVERY_SECONDS or stats.records >= page.total:
                rate = stats.records / max(now - stats.started, 1e-9)
                log.info(f"fetched {stats.records}/{page.total} {endpoint.path} in {stats.pages} pages ({rate:,.0f} records/s)")
                last_log = now
