"""raw_products_parquet: the catalog as received from the API, one Parquet snapshot per day in S3."""

import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    DagsterLogManager,
    Failure,
    MetadataValue,
    Output,
    asset,
)
from dagster_duckdb import DuckDBResource
from pydantic import Field

from ecommerce_assets.io_managers.s3_parquet import (
    BatchStream,
    ReuseStored,
    stored_footer,
    stored_object_exists,
)
from ecommerce_assets.lake_keys import RAW_PRODUCTS_LOCATION
from ecommerce_assets.partitions import daily_partitions
from ecommerce_assets.resources.catalog_api import CatalogApiResource, CatalogClient, CatalogFetchError
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets.transforms.fetch_window import late_fetch_problem
from ecommerce_assets.transforms.raw_snapshot import RAW_SCHEMA, page_batch, page_parser, repeated_ids

PROGRESS_EVERY_SECONDS = 5.0


class RawProductsConfig(Config):
    refetch: bool = Field(default=False, description="fetch again and replace a snapshot already stored")
    allow_late_fetch: bool = Field(
        default=False, description="fetch even though the partition is older than max_fetch_lag_days"
    )
    max_fetch_lag_days: int = Field(default=3, description="days after its date a partition may still be fetched")


@dataclass
class FetchStats:
    records: int = 0
    pages: int = 0
    total: int | None = None
    body_bytes: int = 0
    started: float = field(default_factory=time.monotonic)
    ids: list[pa.Array] = field(default_factory=list)

    def footer(self) -> dict[str, str]:
        return {"api_total": str(self.total if self.total is not None else 0)}

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


def snapshot_batches(client: CatalogClient, duckdb: DuckDBResource, stats: FetchStats,
                     log: DagsterLogManager) -> Iterator[pa.RecordBatch]:
    """Pages of the catalog as raw rows, logging progress; raises before the last batch if torn.
    Runs while the IO manager writes, so it owns its DuckDB connection and the HTTP session."""
    last_log = time.monotonic()
    with duckdb.get_connection() as con, closing(client):
        # each fetching thread parses with a connection of its own (DuckDB connections are not shared)
        for page in client.iter_pages(new_parser=lambda: page_parser(con.cursor())):
            batch = page_batch(page.records, first_index=stats.records, skip=page.skip,
                               fetched_at=page.fetched_at, source_url=page.url)
            ids = batch.column("product_id")
            if stats.ids and len(ids) and ids.null_count < len(ids) and ids.equals(stats.ids[-1]):
                raise CatalogFetchError(
                    f"the page at skip={page.skip} repeats the previous page's records (ids "
                    f"{ids[0].as_py()}..{ids[-1].as_py()}): the API is paging wrongly; not storing a torn snapshot"
                )
            stats.ids.append(ids)
            yield batch
            stats.records += page.count
            stats.pages += 1
            stats.total = page.total
            stats.body_bytes += page.body_bytes
            now = time.monotonic()
            if now - last_log >= PROGRESS_EVERY_SECONDS or stats.records >= page.total:
                rate = stats.records / max(now - stats.started, 1e-9)
                log.info(f"fetched {stats.records}/{page.total} records in {stats.pages} pages ({rate:,.0f} records/s)")
                last_log = now


CHECKS = [
    AssetCheckSpec("raw_products_parquet__count_matches_total", asset="raw_products_parquet", blocking=True,
                   description="The snapshot holds exactly as many records as the API's `total`."),
    AssetCheckSpec("raw_products_parquet__unique_ids", asset="raw_products_parquet",
                   description="No product id appears twice (duplicates are resolved later-wins in the ODS; warning)."),
]


def announced_total(footer: dict[str, str]) -> int | None:
    """The `total` the API announced, as the snapshot's footer recorded it (None when it did not)."""
    value = footer.get("api_total", "")
    return int(value) if value.isdigit() else None


def _checks(stored_rows: int, api_total: int | None, ids: pa.ChunkedArray) -> Iterator[AssetCheckResult]:
    """The stored object's row count (from its footer) against the API's announced `total`, kept apart."""
    passed = api_total is not None and stored_rows == api_total
    yield AssetCheckResult(
        check_name="raw_products_parquet__count_matches_total", passed=passed, severity=AssetCheckSeverity.ERROR,
        description=None if passed else (
            "the stored snapshot does not record the API's total, so its completeness cannot be shown; "
            "rerun with `refetch: true` to fetch it again" if api_total is None else
            f"the stored snapshot holds {stored_rows} records but the API announced {api_total}"),
        metadata={"stored_records": stored_rows, "api_total": -1 if api_total is None else api_total},
    )
    repeated = repeated_ids(ids)
    yield AssetCheckResult(check_name="raw_products_parquet__unique_ids", passed=len(repeated) == 0,
                           severity=AssetCheckSeverity.WARN,
                           metadata={"duplicated_ids": len(repeated),
                                     "examples": MetadataValue.json(repeated.slice(0, 20).to_pylist())})


@asset(
    name="raw_products_parquet",
    group_name="raw",
    partitions_def=daily_partitions,
    io_manager_key="s3_parquet_io_manager",
    metadata=RAW_PRODUCTS_LOCATION.as_metadata(),
    kinds={"s3", "parquet"},
    check_specs=CHECKS,
    description="The day's product catalog exactly as the API returned it: one row per record, JSON kept whole.",
)
def raw_products_parquet(
    context: AssetExecutionContext,
    config: RawProductsConfig,
    catalog_api: CatalogApiResource,
    lake: S3LakeResource,
    duckdb: DuckDBResource,
) -> Iterator[Any]:
    """The day's product catalog exactly as the API returned it: one row per record, JSON kept whole."""
    partition = date.fromisoformat(context.partition_key)
    key = RAW_PRODUCTS_LOCATION.key(context.partition_key)
    if not config.refetch and stored_object_exists(lake, key):
        reason = f"{lake.uri(key)} is already stored and the API has no history; rerun with `refetch: true` to replace it"
        context.log.info(f"reusing the stored snapshot: {reason}")
        yield Output(ReuseStored(reason=reason))
        records, footer = stored_footer(lake, key)
        ids = pq.read_table(f"{lake.bucket_name()}/{key}", columns=["product_id"], filesystem=lake.filesystem())
        yield from _checks(records, announced_total(footer), ids.column("product_id"))
        return
    problem = late_fetch_problem(partition, datetime.now(UTC).date(), config.max_fetch_lag_days)
    if problem and not config.allow_late_fetch:
        raise Failure(description=problem, metadata={"partition": context.partition_key})
    client = catalog_api.client()
    api = client.public_url(client.settings.base_url)
    context.log.info(f"fetching {api}/products, {client.settings.page_size} per page")
    stats = FetchStats()
    stream = BatchStream(schema=RAW_SCHEMA, batches=snapshot_batches(client, duckdb, stats, context.log),
                         summary=stats.summary, footer=stats.footer)
    yield Output(stream, metadata={"source": MetadataValue.url(api)})
    # The IO manager has consumed the stream (and stored the object) when the generator resumes here.
    stored_rows, _ = stored_footer(lake, key)
    yield from _checks(stored_rows, stats.total, pa.chunked_array(stats.ids, pa.int64()))
