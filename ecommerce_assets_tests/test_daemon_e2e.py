"""End to end with a real `dagster-daemon`: materialize only raw for a past day; ODS and mart follow by themselves."""

import time
from pathlib import Path

import pytest
from dagster import AssetKey, AssetRecordsFilter, RunsFilter

from ecommerce_assets.assets import raw_products_parquet
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets_tests.dagster_processes import dagster_stack, sensor_has_ticked, wait_for
from ecommerce_assets_tests.helpers import expected_mart, expected_ods, fetch_all, make_resources, query, run_partition
from ecommerce_catalog_server import CatalogServer

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
        assert {k.to_user_string() for k in automated[0].asset_selection or []} == {"ods_fct_products", "dm_fct_ecommerce"}
