"""Quality gates: checks visible in the UI, a bad mart blocked with the previous rows kept."""

from typing import Any

import pytest
from dagster import DagsterEventType, materialize

from ecommerce_assets.assets import dm_fct_ecommerce
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets.transforms.gates import (
    PartitionCounts,
    rejected_share_problem,
    shrink_problem,
)
from ecommerce_assets_tests.helpers import ALL_ASSETS, make_resources, query, run_partition
from ecommerce_catalog_server import CatalogServer, GeneratedCatalog, ListCatalog

PARTITION = "2025-07-01"


@pytest.mark.parametrize(
    ("counts", "share", "problem"),
    [
        (PartitionCounts(95, 5), 0.05, None),
        (PartitionCounts(94, 6), 0.05, "6 of 100 records were rejected (6.0% > 5.0%)"),
        (PartitionCounts(0, 0), 0.05, None),
    ],
)
def test_rejected_share_problem(counts: PartitionCounts, share: float, problem: str | None) -> None:
    found = rejected_share_problem(counts, share)
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("counts", "problem"),
    [
        (PartitionCounts(50, 0, 100, "2025-06-30"), None),            # exactly half: allowed
        (PartitionCounts(49, 0, 100, "2025-06-30"), "shrank by 51.0%"),
        (PartitionCounts(10, 0, None, None), None),                   # no earlier snapshot
        (PartitionCounts(500, 0, 100, "2025-06-30"), None),           # growth is fine
    ],
)
def test_shrink_problem(counts: PartitionCounts, problem: str | None) -> None:
    found = shrink_problem(counts, 0.5)
    assert (found is None) if problem is None else (found is not None and problem in found)


def check_results(result: Any) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def products(n: int, start: int = 1, bad: int = 0) -> list[dict[str, Any]]:
    rows = [{"id": i, "category": "c" + str(i % 3), "price": 10.0, "stock": 1, "rating": 4} for i in range(start, start + n)]
    for row in rows[:bad]:
        row["price"] = -1
    return rows


@pytest.mark.integration
def test_rejected_share_blocks_the_mart_and_keeps_the_previous_rows(lake: S3LakeResource, pg_dsn: str) -> None:
    with CatalogServer(ListCatalog(products(100))) as server:
        gated = make_resources(lake, pg_dsn, server.url, max_rejected_share=0.05)
        first = run_partition(gated, PARTITION)
        assert check_results(first) == {"raw_products_parquet__count_matches_total": True,
                                        "raw_products_parquet__unique_ids": True,
                                        "ods_fct_products__rejected_share": True, "ods_fct_products__rules_hold": True,
                                        "ods_fct_products__accounts_for_every_record": True,
                                        "ods_fct_products__schema_drift": False,  # most documented fields absent
                                        "dm_fct_ecommerce__reconciles_with_ods": True}
        before = query(pg_dsn, "SELECT category, product_count, loaded_at FROM dm.fct_ecommerce ORDER BY 1")
        assert sum(r[1] for r in before) == 100

        # The next fetch of the day: 20% of the records are bad.
        server.state.catalog = ListCatalog(products(100, bad=20))
        second = run_partition(gated, PARTITION, refetch=True, raise_on_error=False)
        assert not second.success
        assert check_results(second)["ods_fct_products__rejected_share"] is False
        assert query(pg_dsn, "SELECT count(*) FROM ods.rejected_products") == [(20,)]
        # The mart refused the day in this run, saying how to accept it: its previous rows are intact.
        assert query(pg_dsn, "SELECT category, product_count, loaded_at FROM dm.fct_ecommerce ORDER BY 1") == before
        failed = [e for e in second.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
        assert [e.step_key for e in failed] == ["dm_fct_ecommerce"]
        assert "`accept_rejected_share: true`" in failed[0].step_failure_data.error.message  # type: ignore[union-attr]

        # A separate run of the mart alone (as Airflow would) is blocked too, with a clear message.
        alone = materialize(ALL_ASSETS, selection=[dm_fct_ecommerce], partition_key=PARTITION, resources=gated,
                            raise_on_error=False)
        failure = next(e for e in alone.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
        message = failure.step_failure_data.error.message  # type: ignore[union-attr]
        assert "20 of 100 records were rejected (20.0% > 5.0%)" in message and "accept_rejected_share" in message
        assert query(pg_dsn, "SELECT category, product_count, loaded_at FROM dm.fct_ecommerce ORDER BY 1") == before

        # Someone looked at it and accepts: the mart follows the ODS.
        accepted = materialize(ALL_ASSETS, selection=[dm_fct_ecommerce], partition_key=PARTITION, resources=gated,
                               run_config={"ops": {"dm_fct_ecommerce": {"config": {"accept_rejected_share": True}}}})
        assert accepted.success
        assert sum(r[0] for r in query(pg_dsn, "SELECT product_count FROM dm.fct_ecommerce")) == 80


@pytest.mark.integration
def test_sudden_shrink_blocks_the_mart_until_confirmed(lake: S3LakeResource, pg_dsn: str) -> None:
    with CatalogServer(GeneratedCatalog(size=200, seed=3)) as server:
        resources = make_resources(lake, pg_dsn, server.url)
        run_partition(resources, "2025-07-01")
        server.state.catalog = GeneratedCatalog(size=80, seed=3)
        blocked = run_partition(resources, "2025-07-02", raise_on_error=False)
        assert not blocked.success
        failure = next(e for e in blocked.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
        assert "the catalog shrank by 60.0% (200 products on 2025-07-01 -> 80)" in failure.step_failure_data.error.message  # type: ignore[union-attr]
        assert query(pg_dsn, "SELECT count(*) FROM dm.fct_ecommerce WHERE report_date = '2025-07-02'") == [(0,)]
        assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = '2025-07-02'") == [(80,)]

        confirmed = materialize(ALL_ASSETS, selection=[dm_fct_ecommerce], partition_key="2025-07-02",
                                resources=resources,
                                run_config={"ops": {"dm_fct_ecommerce": {"config": {"confirm_shrink": True}}}})
        assert confirmed.success
        assert sum(r[0] for r in query(pg_dsn, "SELECT product_count FROM dm.fct_ecommerce "
                                               "WHERE report_date = '2025-07-02'")) == 80
        assert query(pg_dsn, "SELECT avg_price IS NOT NULL FROM dm.fct_ecommerce LIMIT 1") == [(True,)]
