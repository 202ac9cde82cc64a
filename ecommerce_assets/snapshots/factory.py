"""The snapshot factory: one raw asset per endpoint of the shop API, each day's answer stored in the lake as
it was received — fetched (pages in order, retries, torn snapshots refused), reused when stored (the API
keeps no history), refused when stored from another source (provenance), refetched on request — and the
checks that read the stored object back."""

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from ecommerce_assets.lake import LakeResource
from ecommerce_assets.partitions import daily_partitions
from ecommerce_assets.resources.catalog_api import CatalogApiResource
from ecommerce_assets.retries import STEP_RETRY, heals
from ecommerce_assets.snapshots.census import KeyCensus
from ecommerce_assets.snapshots.endpoint import Endpoint
from ecommerce_assets.snapshots.fetch import FetchStats, snapshot_batches
from ecommerce_assets.transforms.fetch_window import late_fetch_problem

SOURCE_KEY = "source"  # the Parquet footer's record of where a snapshot came from
TOTAL_KEY = "api_total"  # ... and of the `total` the API announced
UNKNOWN_SOURCE = "unknown (stored before sources were recorded)"


class SnapshotConfig(Config):
    refetch: bool = Field(default=False, description="fetch again and replace a snapshot already stored")
    allow_late_fetch: bool = Field(
        default=False, description="fetch even though the partition is older than max_fetch_lag_days"
    )
    max_fetch_lag_days: int = Field(default=3, description="days after its date a partition may still be fetched")


def stored_source(footer: Mapping[str, str]) -> str:
    return footer.get(SOURCE_KEY) or UNKNOWN_SOURCE


def announced_total(footer: Mapping[str, str]) -> int | None:
    """The `total` the API announced, as the snapshot's footer recorded it (None when it did not)."""
    value = footer.get(TOTAL_KEY, "")
    return int(value) if value.isdigit() else None


def snapshot_asset(endpoint: Endpoint) -> AssetsDefinition:
    """The raw asset of `endpoint`: `<location>/snapshot_date=D/<file>.parquet`, one row per record as received
    (`record_index`, the id, `skip`, `fetched_at`, `source_url`, `record_json`), written whole or not at all.
    It writes the lake itself and returns MaterializeResult (it decides whether to fetch, reuse or refuse);
    downstream assets read it through the lake's input manager."""

    @asset(
        retry_policy=STEP_RETRY,
        key=endpoint.asset_key,
        group_name=endpoint.group_name,
        partitions_def=daily_partitions,
        metadata={**endpoint.location.as_metadata(), "endpoint": f"/{endpoint.path}"},
        kinds={"s3", "parquet"},
        description=endpoint.description,
        required_resource_keys={"catalog_api", "lake", "duckdb", *endpoint.hook_resource_keys},
    )
    @heals
    def snapshot(context: AssetExecutionContext, config: SnapshotConfig) -> MaterializeResult:
        catalog_api: CatalogApiResource = context.resources.catalog_api
        lake: LakeResource = context.resources.lake
        key = endpoint.location.key(context.partition_key)
        source = catalog_api.source()
        if not config.refetch and lake.exists(key):
            return _reuse(context, lake, key, source)
        problem = late_fetch_problem(date.fromisoformat(context.partition_key), datetime.now(UTC).date(),
                                     config.max_fetch_lag_days)
        if problem and not config.allow_late_fetch:
            raise Failure(description=problem, metadata={"partition": context.partition_key}, allow_retries=False)
        client = catalog_api.client(quote_errors=not endpoint.personal)
        keep = endpoint.records_hook(context.resources) if endpoint.records_hook else None
        context.log.info(f"fetching {source}/{endpoint.path}, {client.settings.page_size} per page")
        stats = FetchStats()
        batches = snapshot_batches(endpoint, client, context.resources.duckdb, stats, context.log, keep)
        with context.resources.duckdb.get_connection() as census_con:  # the lake's writing thread alone uses it
            census = KeyCensus(census_con)
            stored = lake.write_parquet(
                key, pa.RecordBatchReader.from_batches(endpoint.schema, batches), on_group=census.add,
                footer=lambda: {SOURCE_KEY: source, TOTAL_KEY: str(stats.total if stats.total is not None else 0),
                                **census.footer()})
        context.log.info(f"wrote {stored.rows} rows ({stored.bytes} bytes) to {stored.uri}")
        return MaterializeResult(metadata={
            "uri": MetadataValue.path(stored.uri), "rows": stored.rows, "bytes": stored.bytes, "etag": stored.etag,
            "source": source, "reused": False, "record_keys": MetadataValue.json(sorted(census.keys)),
            **stats.summary(),
        })

    return snapshot


def _reuse(context: AssetExecutionContext, lake: LakeResource, key: str, source: str) -> MaterializeResult:
    """Keep the stored snapshot — unless it came from another source, which is never reused silently."""
    stored = lake.stored(key)  # an object that is not Parquet fails here, naming itself and the fix
    _, footer = lake.footer(key)
    came_from = stored_source(footer)
    if came_from not in (source, UNKNOWN_SOURCE):
        # another source's snapshot is never reused silently: a permanent refusal, said for a person
        raise Failure(
            description=(
                f"the stored snapshot {stored.uri} came from {came_from}, but this run reads {source}: it is not "
                f"reused as this source's. To replace it with {source}'s catalog of today, rerun with config "
                f"`refetch: true` (./scripts/run.sh: --refetch); to keep it, point the API back at {came_from}"),
            metadata={"stored_source": came_from, "configured_source": source, "uri": MetadataValue.path(stored.uri)},
            allow_retries=False,
        )
    if came_from == UNKNOWN_SOURCE:
        context.log.warning(f"{stored.uri} does not record its source (stored before sources were recorded); "
                            f"reused as {source}'s")
    reason = f"{stored.uri} is already stored and the API has no history; rerun with `refetch: true` to replace it"
    context.log.info(f"reusing the stored snapshot: {reason}")
    metadata: dict[str, Any] = {
        "uri": MetadataValue.path(stored.uri), "rows": stored.rows, "bytes": stored.bytes, "etag": stored.etag,
        "source": came_from, "reused": True, "reuse_reason": reason,
    }
    return MaterializeResult(metadata=metadata)
