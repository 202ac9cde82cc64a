"""The mart's gates on real services: a day the ODS gates refuse is built no further — its mart and changes
keep their previous rows — until someone who looked gives the gate's override, which its failure names; a
run of the mart alone (as Airflow makes) is held to the same gates."""

from typing import Any

from dagster import DagsterEventType

from ecommerce_assets.defs.products.checks import ods_fct_products__catalog_shrink, ods_fct_products__rejected_share
from ecommerce_assets.defs.products.keys import CHANGES, MART
from ecommerce_assets.lake import LakeResource
from ecommerce_assets_tests.support.helpers import make_resources, query, run_partition
from ecommerce_catalog_server import CatalogServer, GeneratedCatalog, ListCatalog

PARTITION = "2025-07-01"


def check_results(result: Any) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def failed_checks(result: Any) -> dict[str, str]:
    return {e.check_name: e.description or "" for e in result.get_asset_check_evaluations() if not e.passed}


def products(n: int, start: int = 1, bad: int = 0) -> list[dict[str, Any]]:
    rows = [{"id": i, "category": "c" + str(i % 3), "price": 10.0, "stock": 1, "rating": 4} for i in range(start, start + n)]
    for row in rows[:bad]:
        row["price"] = -1
    return rows


def override(check: Any, flag: str) -> dict[str, Any]:
    return {"ops": {check.op.name: {"config": {flag: True}}}}


def test_rejected_share_blocks_the_mart_and_keeps_the_previous_rows(lake: LakeResource, pg_dsn: str) -> None:
    with CatalogServer(ListCatalog(products(100))) as server:
        gated = make_resources(lake, pg_dsn, server.url, max_rejected_share=0.05)
        first = run_partition(gated, PARTITION)
        assert check_results(first) == {"raw_products_parquet__count_matches_total": True,
                                        "raw_products_parquet__unique_ids": True,
                                        "ods_fct_products__rejected_share": True, "ods_fct_products__rules_hold": True,
                                        "ods_fct_products__catalog_shrink": True,
                                        "ods_fct_products__accounts_for_every_record": True,
                                        "ods_fct_products__schema_drift": False,  # most documented fields absent
                                        "dm_fct_ecommerce__reconciles_with_ods": True}
        before = query(pg_dsn, "SELECT category, product_count, loaded_at FROM dm.fct_ecommerce ORDER BY 1")
        assert sum(r[1] for r in before) == 100

        # The next fetch of the day: 20% of the records are bad.
        server.state.catalog = ListCatalog(products(100, bad=20))
        second = run_partition(gated, PARTITION, refetch=True, raise_on_error=False)
        assert not second.success
        refusal = failed_checks(second)["ods_fct_products__rejected_share"]
        assert f"{PARTITION}: 20 of 100 records were rejected (20.0% > 5.0%)" in refusal
        assert f"`accept_rejected_share: true` (ops: {ods_fct_products__rejected_share.op.name})" in refusal
        assert query(pg_dsn, "SELECT count(*) FROM ods.rejected_products") == [(20,)]
        # Nothing after the ODS was built in this run: the mart's previous rows are intact.
        failed = [e.step_key for e in second.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
        assert failed == [ods_fct_products__rejected_share.op.name]
        assert not {e.asset_key for e in second.get_asset_materialization_events()} & {MART, CHANGES}
        assert query(pg_dsn, "SELECT category, product_count, loaded_at FROM dm.fct_ecommerce ORDER BY 1") == before

        # A separate run of the mart alone (as Airflow would) is blocked too, with the same clear message.
        alone = run_partition(gated, PARTITION, assets=[MART], raise_on_error=False)
        assert not alone.success and "20 of 100 records were rejected" in failed_checks(alone)["ods_fct_products__rejected_share"]
        assert query(pg_dsn, "SELECT category, product_count, loaded_at FROM dm.fct_ecommerce ORDER BY 1") == before

        # Someone looked at it and accepts: the mart follows the ODS.
        accepted = run_partition(gated, PARTITION, assets=[MART],
                                 run_config=override(ods_fct_products__rejected_share, "accept_rejected_share"))
        assert accepted.success
        assert check_results(accepted)["ods_fct_products__rejected_share"] is True
        assert sum(r[0] for r in query(pg_dsn, "SELECT product_count FROM dm.fct_ecommerce")) == 80


def test_sudden_shrink_blocks_the_mart_until_confirmed(lake: LakeResource, pg_dsn: str) -> None:
    with CatalogServer(GeneratedCatalog(size=200, seed=3)) as server:
        resources = make_resources(lake, pg_dsn, server.url)
        run_partition(resources, "2025-07-01")
        server.state.catalog = GeneratedCatalog(size=80, seed=3)
        blocked = run_partition(resources, "2025-07-02", raise_on_error=False)
        assert not blocked.success
        refusal = failed_checks(blocked)["ods_fct_products__catalog_shrink"]
        assert "the catalog shrank by 60.0% (200 products on 2025-07-01 -> 80)" in refusal
        assert "`confirm_shrink: true`" in refusal
        assert query(pg_dsn, "SELECT count(*) FROM dm.fct_ecommerce WHERE report_date = '2025-07-02'") == [(0,)]
        assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = '2025-07-02'") == [(80,)]

        confirmed = run_partition(resources, "2025-07-02", assets=[CHANGES, MART],
                                  run_config=override(ods_fct_products__catalog_shrink, "confirm_shrink"))
        assert confirmed.success
        assert sum(r[0] for r in query(pg_dsn, "SELECT product_count FROM dm.fct_ecommerce "
                                               "WHERE report_date = '2025-07-02'")) == 80
        assert query(pg_dsn, "SELECT avg_price IS NOT NULL FROM dm.fct_ecommerce LIMIT 1") == [(True,)]
