"""End to end with a real `dagster-daemon`: materialize only raw; ODS, changes, mart and history follow by
themselves — for days arriving out of order too, each dependent partition exactly once."""

import time
from datetime import date
from pathlib import Path

import pytest
from dagster import AssetKey, AssetRecordsFilter, RunsFilter

from ecommerce_assets.assets import raw_products_parquet
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets_tests import history_oracle as oracle
from ecommerce_assets_tests.dagster_processes import dagster_stack, sensor_has_ticked, wait_for
from ecommerce_assets_tests.helpers import expected_mart, expected_ods, fetch_all, make_resources, query, run_partition
from ecommerce_catalog_server import CatalogServer
from ecommerce_catalog_server.daily import DailyCatalog

pytestmark = pytest.mark.integration

PARTITION = "2025-05-10"
WAIT_SECONDS = 240


def test_raw_only_brings_ods_and_mart_by_itself(tmp_path: Path, lake: S3LakeResource, pg_dsn: str,
                                                catalog_server: CatalogServer) -> None:
    with dagster_stack(tmp_path, pg_dsn, lake, catalog_server.url) as stack:
        instance = stack.instance
        wait_for(lambda: sensor_has_ticked(instance, "ecommerce_automation_sensor"), WAIT_SECONDS,
                 "the automation sensor's first tick", stack.log)

        run_partition(make_resources(lake, pg_dsn, catalog_server.url), PARTITION, assets=[raw_products_parquet],
                      instance=instance)

        def mart_materialized() -> bool:
            return bool(instance.fetch_materializations(
                AssetRecordsFilter(asset_key=AssetKey("dm_fct_ecommerce"), asset_partitions=[PARTITION]), limit=1,
            ).records)

        wait_for(mart_materialized, WAIT_SECONDS, f"dm_fct_ecommerce {PARTITION}", stack.log)

        accepted, _ = expected_ods(fetch_all(catalog_server.url))
        assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s",
                     (PARTITION,)) == [(len(accepted),)]
        mart = sorted(query(pg_dsn, "SELECT category, product_count, total_stock, avg_price, avg_rating "
                                    "FROM dm.fct_ecommerce WHERE report_date = %s", (PARTITION,)))
        assert mart == expected_mart(accepted)

        # Exactly once: the raw run and one automation run for the partition, even after further ticks.
        time.sleep(20)
        runs = instance.get_runs(RunsFilter(tags={"dagster/partition": PARTITION}))
        assert len(runs) == 2, [(r.job_name, r.status, r.tags) for r in runs]
        automated = [r for r in runs if r.asset_selection and AssetKey("raw_products_parquet") not in r.asset_selection]
        assert len(automated) == 1
        assert {k.to_user_string() for k in automated[0].asset_selection or []} == {
            "ods_fct_products", "dm_fct_product_changes", "dm_fct_ecommerce"}


def test_days_out_of_order_through_raw_only(tmp_path: Path, lake: S3LakeResource, pg_dsn: str) -> None:
    """Raw for the 3rd, then the 1st, then the 2nd day: the daemon brings every ODS, changes and mart partition
    (the 3rd day's changes again, once per earlier day that landed before it) and the history, exactly as an
    independent oracle says, with no partition's chain run twice for one load."""
    days = [date(2025, 5, 20), date(2025, 5, 21), date(2025, 5, 22)]
    with CatalogServer(DailyCatalog(60, days[2])) as server, \
            dagster_stack(tmp_path, pg_dsn, lake, server.url) as stack:
        instance = stack.instance
        wait_for(lambda: sensor_has_ticked(instance, "ecommerce_automation_sensor"), WAIT_SECONDS,
                 "the automation sensor's first tick", stack.log)
        resources = make_resources(lake, pg_dsn, server.url)
        snapshots = {}
        for step, day in enumerate((days[2], days[0], days[1])):
            catalog = DailyCatalog(60, day)
            server.state.catalog = catalog
            snapshots[day] = oracle.snapshot(catalog.page(0, catalog.total()))
            run_partition(resources, str(day), assets=[raw_products_parquet], instance=instance)
            expected = oracle.all_changes(snapshots)

            def settled(expected: set[tuple[object, ...]] = expected, loaded: int = step + 1) -> bool:
                return (query(pg_dsn, "SELECT count(*) FROM meta.history_applied") == [(loaded,)]
                        and set(query(pg_dsn, CHANGES)) == expected)

            wait_for(settled, WAIT_SECONDS, f"changes and history after loading {day}", stack.log)
        time.sleep(40)  # further ticks request nothing more
        expected_changes = oracle.all_changes(snapshots)
        assert set(query(pg_dsn, CHANGES)) == expected_changes
        assert set(query(pg_dsn, INTERVALS)) == oracle.intervals(snapshots)
        for day, snapshot in snapshots.items():
            mart = {r[0]: tuple(r[1:]) for r in query(pg_dsn, MART, (day,))}
            assert mart == oracle.mart_columns(day, snapshot, expected_changes), day

        def chains(day: date) -> list[list[str]]:
            """What the daemon ran for the day (the test's own raw run has no asset selection)."""
            runs = instance.get_runs(RunsFilter(tags={"dagster/partition": str(day)}))
            assert len([r for r in runs if not r.asset_selection]) == 1  # the raw run
            return sorted(sorted(k.to_user_string() for k in r.asset_selection or []) for r in runs if r.asset_selection)

        chain = sorted(["ods_fct_products", "dm_fct_product_changes", "dm_fct_ecommerce"])
        assert chains(days[0]) == [chain]
        assert chains(days[1]) == [chain]
        # the 3rd day: its own chain, then its changes and mart again after the 1st and after the 2nd landed
        again = sorted(["dm_fct_product_changes", "dm_fct_ecommerce"])
        assert chains(days[2]) == sorted([chain, again, again])


CHANGES = ("SELECT change_date, product_id, change_type, previous_snapshot_date, old_value, new_value, price_change_pct "
           "FROM dm.fct_product_changes")
INTERVALS = ("SELECT product_id, valid_from, valid_to, is_current, title, category, brand, price, discount_percentage, "
             "stock, availability_status, rating FROM dm.dim_product_history")
MART = ("SELECT category, out_of_stock_count, inventory_value, avg_discount_pct, price_changes FROM dm.fct_ecommerce "
        "WHERE report_date = %s")
