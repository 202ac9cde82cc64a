"""The raw layer against the catalog server's real faults: retried where that helps, else a clear failure and
never a torn or half-written snapshot."""

import io
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from dagster import DagsterEventType, ExecuteInProcessResult

from ecommerce_assets.assets import raw_products_parquet
from ecommerce_assets.diagnosis import describe_error
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets_tests.helpers import fetch_all, make_resources, run_partition
from ecommerce_catalog_server import CatalogServer, Fault, FaultPlan, GeneratedCatalog

pytestmark = pytest.mark.integration

PARTITION = "2025-03-14"
KEY = f"raw/products/snapshot_date={PARTITION}/products.parquet"


def stored(lake: S3LakeResource) -> list[str]:
    listing = lake.client().list_objects_v2(Bucket=lake.bucket_name())
    return sorted(o["Key"] for o in listing.get("Contents", []))


def stored_rows(lake: S3LakeResource, key: str = KEY) -> int:
    body = lake.client().get_object(Bucket=lake.bucket_name(), Key=key)["Body"].read()
    return int(pq.read_table(io.BytesIO(body)).num_rows)


def failure_message(result: ExecuteInProcessResult) -> str:
    failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert failures, "the run was expected to fail"
    error = failures[0].step_failure_data.error  # type: ignore[union-attr]
    return describe_error(error) if error else ""


def raw_only(lake: S3LakeResource, pg_dsn: str, server: CatalogServer, *, refetch: bool = False,
             page_size: int = 40, **api: object) -> ExecuteInProcessResult:
    return run_partition(make_resources(lake, pg_dsn, server.url, page_size=page_size, **api), PARTITION,
                         assets=[raw_products_parquet], refetch=refetch, raise_on_error=False)


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
        Fault("not_json"),
    ],
    ids=lambda f: f"{f.kind}-{f.status}",
)
def test_transient_faults_are_retried(lake: S3LakeResource, pg_dsn: str, server: CatalogServer, fault: Fault) -> None:
    server.state.faults = FaultPlan(at={2: fault, 3: fault})
    result = raw_only(lake, pg_dsn, server)
    assert result.success
    assert stored(lake) == [KEY]
    assert stored_rows(lake) == 200
    assert server.state.requests == 5 + 2  # 5 pages; the second failed twice before it was answered


def test_retry_after_is_honoured(lake: S3LakeResource, pg_dsn: str, server: CatalogServer) -> None:
    server.state.faults = FaultPlan(at={1: Fault("status", status=429, retry_after=2)})
    started = datetime.now(UTC)
    assert raw_only(lake, pg_dsn, server).success
    assert datetime.now(UTC) - started >= timedelta(seconds=2)


def test_retry_budget_spent_fails_clearly_and_stores_nothing(lake: S3LakeResource, pg_dsn: str,
                                                              server: CatalogServer) -> None:
    server.state.faults = FaultPlan(every={1: Fault("status", status=500)})
    result = raw_only(lake, pg_dsn, server, max_retries=2)
    assert not result.success
    assert "gave up after 2 retries" in failure_message(result)
    assert stored(lake) == []
    assert server.state.requests == 3


def test_total_changing_mid_fetch_stores_no_torn_snapshot(lake: S3LakeResource, pg_dsn: str,
                                                           server: CatalogServer) -> None:
    assert raw_only(lake, pg_dsn, server).success
    before = lake.client().get_object(Bucket=lake.bucket_name(), Key=KEY)["Body"].read()

    server.state.requests = 0
    server.state.faults = FaultPlan(at={3: Fault("total_shift", status=5)})
    result = raw_only(lake, pg_dsn, server, refetch=True)
    assert not result.success
    assert "`total` changed during the fetch (200 -> 205 at skip=80)" in failure_message(result)
    # The previous snapshot is intact, byte for byte.
    assert lake.client().get_object(Bucket=lake.bucket_name(), Key=KEY)["Body"].read() == before


def test_missing_records_fail_clearly(lake: S3LakeResource, pg_dsn: str, server: CatalogServer) -> None:
    class ShortCatalog(GeneratedCatalog):
        def page(self, skip: int, limit: int) -> list[dict[str, object]]:
            return [] if skip >= 120 else super().page(skip, limit)

    server.state.catalog = ShortCatalog(size=200, seed=3)
    result = raw_only(lake, pg_dsn, server)
    assert not result.success
    assert "returned no records at skip=120 although total=200" in failure_message(result)
    assert stored(lake) == []


def test_server_capping_the_page_size(lake: S3LakeResource, pg_dsn: str, server: CatalogServer) -> None:
    """`limit` in the answer is what came back: the next request skips by that, not by what was asked."""
    server.state.max_limit = 30
    assert raw_only(lake, pg_dsn, server, page_size=100).success
    body = lake.client().get_object(Bucket=lake.bucket_name(), Key=KEY)["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == 200
    assert sorted(set(table.column("skip").to_pylist())) == list(range(0, 200, 30))
    assert table.column("product_id").to_pylist() == list(range(1, 201))


def test_late_fetch_is_refused_unless_allowed(lake: S3LakeResource, pg_dsn: str, server: CatalogServer) -> None:
    from dagster import materialize

    resources = make_resources(lake, pg_dsn, server.url)
    old = (datetime.now(UTC).date() - timedelta(days=10)).isoformat()
    result = materialize([raw_products_parquet], partition_key=old, resources=resources, raise_on_error=False)
    message = failure_message(result)
    assert "10 days old" in message and "no history" in message and "allow_late_fetch" in message
    assert stored(lake) == []
    assert server.state.requests == 0

    recent = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    assert materialize([raw_products_parquet], partition_key=recent, resources=resources).success
    assert stored(lake) == [f"raw/products/snapshot_date={recent}/products.parquet"]


def test_metadata_in_the_ui(lake: S3LakeResource, pg_dsn: str, server: CatalogServer) -> None:
    result = raw_only(lake, pg_dsn, server)
    (materialization,) = result.asset_materializations_for_node("raw_products_parquet")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert meta["records"] == meta["rows"] == meta["api_total"] == 200
    assert meta["pages"] == 5
    assert meta["uri"] == f"s3://{lake.bucket_name()}/{KEY}"
    assert meta["bytes"] == lake.client().head_object(Bucket=lake.bucket_name(), Key=KEY)["ContentLength"]
    assert meta["duration_seconds"] > 0
    assert meta["reused"] is False
    assert fetch_all(server.url)[0]["id"] == 1


def test_a_repeated_page_fails_clearly(lake: S3LakeResource, pg_dsn: str, server: CatalogServer) -> None:
    class RepeatingCatalog(GeneratedCatalog):
        def page(self, skip: int, limit: int) -> list[dict[str, object]]:
            return super().page(40 if skip == 80 else skip, limit)  # the third page repeats the second

    server.state.catalog = RepeatingCatalog(size=200, seed=3)
    result = raw_only(lake, pg_dsn, server)
    assert not result.success
    assert "the page at skip=80 repeats the previous page's records (ids 41..80)" in failure_message(result)
    assert stored(lake) == []
