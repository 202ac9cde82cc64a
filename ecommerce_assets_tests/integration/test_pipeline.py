"""End to end against real PostgreSQL, a real S3 endpoint and the bundled catalog server."""

import io
from decimal import Decimal
from typing import Any

import pyarrow.parquet as pq

from ecommerce_assets.defs.products.keys import ODS, RAW
from ecommerce_assets.lake import LakeResource
from ecommerce_assets_tests.support.helpers import (
    expected_mart,
    expected_ods,
    fetch_all,
    make_resources,
    materialization,
    query,
    run_partition,
)
from ecommerce_catalog_server import CatalogServer, Fault, FaultPlan, GeneratedCatalog, ListCatalog

PARTITION = "2025-03-14"


def lake_keys(lake: LakeResource) -> list[str]:
    listing = lake.get_client().list_objects_v2(Bucket=lake.bucket)
    return sorted(obj["Key"] for obj in listing.get("Contents", []))


def read_raw(lake: LakeResource, partition: str) -> Any:
    body = lake.get_client().get_object(Bucket=lake.bucket,
                                    Key=f"raw/products/snapshot_date={partition}/products.parquet")["Body"].read()
    return pq.read_table(io.BytesIO(body)), body


def mart_rows(dsn: str, partition: str) -> list[tuple[Any, ...]]:
    rows = query(dsn, "SELECT category, product_count, total_stock, avg_price, avg_rating FROM dm.fct_ecommerce "
                      "WHERE report_date = %s", (partition,))
    return sorted(rows)


def ods_snapshot(dsn: str) -> list[tuple[Any, ...]]:
    return query(dsn, "SELECT snapshot_date, product_id, title, description, category, brand, sku, price, "
                      "discount_percentage, rating, stock, availability_status, tags, weight, minimum_order_quantity, "
                      "created_at, updated_at, loaded_at FROM ods.fct_products ORDER BY 1, 2")


def test_awkward_catalog_end_to_end(lake: LakeResource, pg_dsn: str, catalog_server: CatalogServer) -> None:
    """Numeric strings, nulls, padded/missing categories, bad values, missing and duplicated ids, unknown
    fields and failing requests: the mart equals an independent computation to the cent."""
    catalog_server.state.faults = FaultPlan(at={
        2: Fault("status", status=429, retry_after=1),
        3: Fault("status", status=503),
        5: Fault("status", status=500),
    })
    records = fetch_all(catalog_server.url)
    catalog_server.state.requests = 0
    result = run_partition(make_resources(lake, pg_dsn, catalog_server.url, page_size=40), PARTITION)
    assert result.success

    # The raw snapshot: exactly one object at the documented key, one row per record, JSON kept whole.
    assert lake_keys(lake) == [f"raw/products/snapshot_date={PARTITION}/products.parquet"]
    raw, body = read_raw(lake, PARTITION)
    assert body[:4] == b"PAR1"
    assert pq.ParquetFile(io.BytesIO(body)).metadata.row_group(0).column(0).compression == "ZSTD"
    assert raw.num_rows == len(records) == catalog_server.state.catalog.total()
    import json
    assert [json.loads(t) for t in raw.column("record_json").to_pylist()] == records
    assert raw.column("skip").to_pylist() == [i // 40 * 40 for i in range(len(records))]
    assert set(raw.column("source_url").to_pylist()) == {
        f"{catalog_server.url}/products?limit=40&skip={s}" for s in range(0, len(records), 40)
    }

    accepted, rejected = expected_ods(records)
    assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s", (PARTITION,)) == [(len(accepted),)]
    ods = {r[0]: r[1:] for r in query(pg_dsn, "SELECT product_id, category, price, stock, rating FROM ods.fct_products")}
    assert ods == {pid: (p["category"], p["price"], p["stock"], p["rating"]) for pid, p in accepted.items()}

    # Every rejected record is kept with its reason, once.
    stored = query(pg_dsn, "SELECT record_index, reason, payload FROM ods.rejected_products ORDER BY record_index")
    assert [r[0] for r in stored] == sorted(rejected)
    by_reason = {r[0]: r[1] for r in stored}
    for position, kind in rejected.items():
        record = records[position]
        if kind == "id":
            assert by_reason[position] in ("missing_id", "id_not_integer"), record
    assert {r[1] for r in stored} >= {"missing_id", "id_not_integer", "price_negative", "stock_negative",
                                      "price_not_numeric", "stock_not_whole", "rating_out_of_range"}
    assert all(json.loads(r[2]) == records[r[0]] for r in stored)

    # The mart, to the cent.
    assert mart_rows(pg_dsn, PARTITION) == expected_mart(accepted)
    assert ("unknown",) in {(r[0],) for r in mart_rows(pg_dsn, PARTITION)}

    # Duplicated ids: the later copy (stock + 1000) won.
    dup = 97 * 2
    assert query(pg_dsn, "SELECT stock FROM ods.fct_products WHERE product_id = %s", (dup,))[0][0] >= 1000


def test_rerun_is_idempotent_and_reuses_the_snapshot(lake: LakeResource, pg_dsn: str,
                                                     catalog_server: CatalogServer) -> None:
    resources = make_resources(lake, pg_dsn, catalog_server.url)
    run_partition(resources, PARTITION)
    first_ods, first_mart = ods_snapshot(pg_dsn), mart_rows(pg_dsn, PARTITION)
    first_rejected = query(pg_dsn, "SELECT snapshot_date, record_index, reason FROM ods.rejected_products ORDER BY 2")
    _, first_body = read_raw(lake, PARTITION)
    requests_before = catalog_server.state.requests

    # The catalog changes; a re-run without refetch reuses the stored snapshot and nothing moves.
    catalog_server.state.catalog = GeneratedCatalog(size=120, seed=7, awkward=True, price_factor=2.0)
    result = run_partition(resources, PARTITION)
    assert catalog_server.state.requests == requests_before  # the API was not asked
    raw_materialization = materialization(result, RAW)
    assert raw_materialization.metadata["reused"].value is True
    _, second_body = read_raw(lake, PARTITION)
    assert second_body == first_body
    assert ods_snapshot(pg_dsn) == first_ods  # loaded_at included: unchanged rows are not rewritten
    assert mart_rows(pg_dsn, PARTITION) == first_mart
    assert query(pg_dsn, "SELECT snapshot_date, record_index, reason FROM ods.rejected_products ORDER BY 2") == first_rejected
    ods_materialization = materialization(result, ODS)
    assert ods_materialization.metadata["rows_updated"].value == 0
    assert ods_materialization.metadata["rows_inserted"].value == 0


def test_refetch_converges_to_the_new_catalog(lake: LakeResource, pg_dsn: str, catalog_server: CatalogServer) -> None:
    resources = make_resources(lake, pg_dsn, catalog_server.url)
    run_partition(resources, PARTITION)
    assert query(pg_dsn, "SELECT count(*) FROM dm.fct_ecommerce WHERE category = 'gadgets'") == [(0,)]

    # Products vanish, prices move, one category disappears and a new one appears.
    new_records = [r for r in fetch_all(catalog_server.url) if not (isinstance(r.get("category"), str)
                                                                    and r["category"].strip() == "beauty")]
    new_records = [dict(r, price=2 * r["price"]) if isinstance(r.get("price"), (int, float)) and r.get("id") == 10 else r
                   for r in new_records[:150]]
    new_records.append({"id": 9001, "category": "gadgets", "price": 10.005, "stock": 1, "rating": 4})
    catalog_server.state.catalog = ListCatalog(new_records)
    run_partition(resources, PARTITION, refetch=True)

    accepted, rejected = expected_ods(new_records)
    ods = {r[0]: r[1:] for r in query(pg_dsn, "SELECT product_id, category, price, stock, rating FROM ods.fct_products")}
    assert ods == {pid: (p["category"], p["price"], p["stock"], p["rating"]) for pid, p in accepted.items()}
    assert mart_rows(pg_dsn, PARTITION) == expected_mart(accepted)
    assert query(pg_dsn, "SELECT count(*) FROM dm.fct_ecommerce WHERE category = 'beauty'") == [(0,)]
    assert query(pg_dsn, "SELECT avg_price FROM dm.fct_ecommerce WHERE category = 'gadgets'") == [(Decimal("10.01"),)]
    assert [r[0] for r in query(pg_dsn, "SELECT record_index FROM ods.rejected_products ORDER BY 1")] == sorted(rejected)

    # Running the refetched state again converges to the same rows.
    before = ods_snapshot(pg_dsn)
    run_partition(resources, PARTITION)
    assert ods_snapshot(pg_dsn) == before


def test_two_partitions_side_by_side(lake: LakeResource, pg_dsn: str, catalog_server: CatalogServer) -> None:
    resources = make_resources(lake, pg_dsn, catalog_server.url)
    run_partition(resources, "2025-03-14")
    first_mart = mart_rows(pg_dsn, "2025-03-14")
    catalog_server.state.catalog = GeneratedCatalog(size=120, seed=11)  # no sharp shrink: the gate lets it through
    run_partition(resources, "2025-03-15")

    assert lake_keys(lake) == [
        "raw/products/snapshot_date=2025-03-14/products.parquet",
        "raw/products/snapshot_date=2025-03-15/products.parquet",
    ]
    counts = query(pg_dsn, "SELECT snapshot_date::text, count(*) FROM ods.fct_products GROUP BY 1 ORDER BY 1")
    assert counts == [("2025-03-14", len(expected_ods(fetch_all_from(GeneratedCatalog(size=250, seed=7, awkward=True)))[0])),
                      ("2025-03-15", 120)]
    assert mart_rows(pg_dsn, "2025-03-14") == first_mart  # the other day is untouched
    accepted, _ = expected_ods(fetch_all_from(GeneratedCatalog(size=120, seed=11)))
    assert mart_rows(pg_dsn, "2025-03-15") == expected_mart(accepted)


def fetch_all_from(catalog: Any) -> list[Any]:
    return catalog.page(0, catalog.total())
