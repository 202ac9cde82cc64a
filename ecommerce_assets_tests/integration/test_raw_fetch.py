"""The raw layer against the catalog server's real faults: retried where that helps, else a clear failure and
never a torn or half-written snapshot."""

import io
import json
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from dagster import DagsterEventType, ExecuteInProcessResult

from ecommerce_assets.defs.products.keys import RAW
from ecommerce_assets.diagnosis import describe_error
from ecommerce_assets.lake import LakeResource
from ecommerce_assets_tests.support.helpers import fetch_all, make_resources, materialization, run_partition
from ecommerce_catalog_server import CatalogServer, Fault, FaultPlan, GeneratedCatalog

PARTITION = "2025-03-14"
KEY = f"raw/products/snapshot_date={PARTITION}/products.parquet"


def stored(lake: LakeResource) -> list[str]:
    listing = lake.get_client().list_objects_v2(Bucket=lake.bucket)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def stored_rows(lake: LakeResource, key: str = KEY) -> int:
    body = lake.get_client().get_object(Bucket=lake.bucket, Key=key)["Body"].read()
    return int(pq.read_table(io.BytesIO(body)).num_rows)


def failure_message(result: ExecuteInProcessResult) -> str:
    failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert failures, "the run was expected to fail"
    error = failures[0].step_failure_data.error  # type: ignore[union-attr]
    return describe_error(error) if error else ""


def raw_only(lake: LakeResource, pg_dsn: str, server: CatalogServer, *, refetch: bool = False,
             page_size: int = 40, **api: object) -> ExecuteInProcessResult:
    return run_partition(make_resources(lake, pg_dsn, server.url, page_size=page_size, **api), PARTITION,
                         assets=[RAW], refetch=refetch, raise_on_error=False)


@pytest.fixture
def server() -> CatalogServer:
    with CatalogServer(GeneratedCatalog(size=200, seed=3)) as s:
        yield s


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=429, retry_after=1),
        Fault("status", status=500),
        Fault("status", status=502),
        Fault("status", status=503),
        Fault("reset"),
        Fault("truncate"),
        Fault("cut"),
        Fault("not_json"),
    ],
    ids=lambda f: f"{f.kind}-{f.status}",
)
def test_transient_faults_are_retried(lake: LakeResource, pg_dsn: str, server: CatalogServer, fault: Fault) -> None:
    server.state.faults = FaultPlan(at={2: fault, 3: fault})
    result = raw_only(lake, pg_dsn, server)
    assert result.success
    assert stored(lake) == [KEY]
    assert stored_rows(lake) == 200
    assert server.state.requests == 5 + 2  # 5 pages; the second failed twice before it was answered


def test_retry_after_is_honoured(lake: LakeResource, pg_dsn: str, server: CatalogServer) -> None:
    server.state.faults = FaultPlan(at={1: Fault("status", status=429, retry_after=2)})
    started = datetime.now(UTC)
    assert raw_only(lake, pg_dsn, server).success
    assert datetime.now(UTC) - started >= timedelta(seconds=2)


def test_retry_budget_spent_fails_clearly_and_stores_nothing(lake: LakeResource, pg_dsn: str,
                                                              server: CatalogServer) -> None:
    server.state.faults = FaultPlan(every={1: Fault("status", status=500)})
    result = raw_only(lake, pg_dsn, server, max_retries=2)
    assert not result.success
    assert "gave up after 2 retries" in failure_message(result)
    assert stored(lake) == []
    assert server.state.requests == 3


def test_total_changing_mid_fetch_stores_no_torn_snapshot(lake: LakeResource, pg_dsn: str,
                                                           server: CatalogServer) -> None:
    assert raw_only(lake, pg_dsn, server).success
    before = lake.get_client().get_object(Bucket=lake.bucket, Key=KEY)["Body"].read()

    server.state.requests = 0
    server.state.faults = FaultPlan(at={3: Fault("total_shift", status=5)})
    result = raw_only(lake, pg_dsn, server, refetch=True)
    assert not result.success
    assert "`total` changed during the fetch (200 -> 205 at skip=80)" in failure_message(result)
    # The previous snapshot is intact, byte for byte.
    assert lake.get_client().get_object(Bucket=lake.bucket, Key=KEY)["Body"].read() == before


def test_missing_records_fail_clearly(lake: LakeResource, pg_dsn: str, server: CatalogServer) -> None:
    class ShortCatalog(GeneratedCatalog):
        def page(self, skip: int, limit: int) -> list[dict[str, object]]:
            return [] if skip >= 120 else super().page(skip, limit)

    server.state.catalog = ShortCatalog(size=200, seed=3)
    result = raw_only(lake, pg_dsn, server)
    assert not result.success
    assert "returned no records at skip=120 although total=200" in failure_message(result)
    assert stored(lake) == []


def test_server_capping_the_page_size(lake: LakeResource, pg_dsn: str, server: CatalogServer) -> None:
    """`limit` in the answer is what came back: the next request skips by that, not by what was asked."""
    server.state.max_limit = 30
    assert raw_only(lake, pg_dsn, server, page_size=100).success
    body = lake.get_client().get_object(Bucket=lake.bucket, Key=KEY)["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == 200
    assert sorted(set(table.column("skip").to_pylist())) == list(range(0, 200, 30))
    assert table.column("product_id").to_pylist() == list(range(1, 201))


def test_late_fetch_is_refused_unless_allowed(lake: LakeResource, pg_dsn: str, server: CatalogServer) -> None:
    resources = make_resources(lake, pg_dsn, server.url)
    old = (datetime.now(UTC).date() - timedelta(days=10)).isoformat()
    no_config = {"ops": {"raw_products_parquet": {"config": {}}}}  # the default: no late fetch
    result = run_partition(resources, old, assets=[RAW], run_config=no_config, raise_on_error=False)
    message = failure_message(result)
    assert "10 days old" in message and "no history" in message and "allow_late_fetch" in message
    assert stored(lake) == []
    assert server.state.requests == 0

    recent = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    assert run_partition(resources, recent, assets=[RAW], run_config=no_config).success
    assert stored(lake) == [f"raw/products/snapshot_date={recent}/products.parquet"]


def test_metadata_in_the_ui(lake: LakeResource, pg_dsn: str, server: CatalogServer) -> None:
    result = raw_only(lake, pg_dsn, server)
    meta = {k: v.value for k, v in materialization(result, RAW).metadata.items()}
    assert meta["records"] == meta["rows"] == meta["api_total"] == 200
    assert meta["pages"] == 5
    assert meta["uri"] == f"s3://{lake.bucket}/{KEY}"
    assert meta["bytes"] == lake.get_client().head_object(Bucket=lake.bucket, Key=KEY)["ContentLength"]
    assert meta["duration_seconds"] > 0
    assert meta["reused"] is False
    assert fetch_all(server.url)[0]["id"] == 1


def test_a_repeated_page_fails_clearly(lake: LakeResource, pg_dsn: str, server: CatalogServer) -> None:
    class RepeatingCatalog(GeneratedCatalog):
        def page(self, skip: int, limit: int) -> list[dict[str, object]]:
            return super().page(40 if skip == 80 else skip, limit)  # the third page repeats the second

    server.state.catalog = RepeatingCatalog(size=200, seed=3)
    result = raw_only(lake, pg_dsn, server)
    assert not result.success
    assert "the page at skip=80 repeats the previous page's records (ids 41..80)" in failure_message(result)
    assert stored(lake) == []


def test_a_snapshot_records_its_source_and_another_sources_is_never_reused(lake: LakeResource, pg_dsn: str,
                                                                          server: CatalogServer) -> None:
    """Provenance: the footer and the materialization name where a snapshot came from; a run reading another
    source refuses the stored one, naming both and the fix, and changes nothing; refetch replaces it."""
    simulated = make_resources(lake, pg_dsn, server.url, source_name="simulator (seed 3)")
    first = run_partition(simulated, PARTITION, assets=[RAW])
    assert materialization(first, RAW).metadata["source"].value == "simulator (seed 3)"
    assert lake.footer(KEY)[1]["source"] == "simulator (seed 3)"
    stored_before = lake.stored(KEY)

    real = make_resources(lake, pg_dsn, server.url)  # no name: the base URL is the source
    refused = run_partition(real, PARTITION, assets=[RAW], raise_on_error=False)
    message = failure_message(refused)
    assert f"the stored snapshot s3://{lake.bucket}/{KEY} came from simulator (seed 3), but this run reads " \
           f"{server.url}" in message
    assert "`refetch: true` (./scripts/run.sh: --refetch)" in message and "point the API back at simulator" in message
    assert lake.stored(KEY) == stored_before and server.state.requests == 5  # the API was not asked again
    replaced = run_partition(real, PARTITION, assets=[RAW], refetch=True)
    assert replaced.success and lake.footer(KEY)[1]["source"] == server.url

    # a snapshot from before sources were recorded is reused, saying so
    table = pq.read_table(f"{lake.bucket}/{KEY}", filesystem=lake.filesystem())
    footer = {k: v for k, v in lake.footer(KEY)[1].items() if k != "source"}
    with pq.ParquetWriter(f"{lake.bucket}/{KEY}", table.schema.with_metadata(footer), filesystem=lake.filesystem()) as w:
        w.write_table(table.replace_schema_metadata(footer))
    legacy = run_partition(real, PARTITION, assets=[RAW])
    assert materialization(legacy, RAW).metadata["source"].value == "unknown (stored before sources were recorded)"


def test_a_stored_object_that_is_not_parquet_names_itself_and_the_fix(lake: LakeResource, pg_dsn: str,
                                                                     server: CatalogServer) -> None:
    resources = make_resources(lake, pg_dsn, server.url)
    lake.get_client().put_object(Bucket=lake.bucket, Key=KEY, Body=b"PAR1 cut short")
    result = run_partition(resources, PARTITION, assets=[RAW], raise_on_error=False)
    message = failure_message(result)
    assert f"s3://{lake.bucket}/{KEY} cannot be read as Parquet" in message
    assert "`refetch: true` (./scripts/run.sh: --refetch)" in message
    assert "ArrowInvalid" not in message.split(": ", 1)[0]  # said for a person, not as Arrow's exception
    assert run_partition(resources, PARTITION, assets=[RAW], refetch=True).success
    assert lake.footer(KEY)[0] == 200


def test_a_snapshot_records_the_keys_its_records_use(lake: LakeResource, pg_dsn: str) -> None:
    """The schema-drift census, taken as the snapshot is written and kept in its footer (the ODS reads it
    instead of parsing every record again), equals the keys of the records the API sent, read by the standard
    library; the UI shows it."""
    with CatalogServer(GeneratedCatalog(size=300, seed=11, awkward=True)) as server:
        result = raw_only(lake, pg_dsn, server)
        records = fetch_all(server.url)
    expected = sorted({key for record in records if isinstance(record, dict) for key in record})
    assert len(expected) > 5
    assert json.loads(lake.footer(KEY)[1]["record_keys"]) == expected
    assert materialization(result, RAW).metadata["record_keys"].value == expected
