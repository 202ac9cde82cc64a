"""End to end with a real `dagster-daemon`: materialize only raw for a past day; ODS and mart follow by themselves."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, RunsFilter
from dagster._core.scheduler.instigation import InstigatorType

from ecommerce_assets.assets import raw_products_parquet
from ecommerce_assets.catalog_server import CatalogServer
from ecommerce_assets.resources.lake import S3LakeResource
from ecommerce_assets_tests.conftest import REPO_ROOT, write_instance_yaml
from ecommerce_assets_tests.helpers import expected_mart, expected_ods, fetch_all, make_resources, query, run_partition

pytestmark = pytest.mark.integration

PARTITION = "2025-05-10"
WAIT_SECONDS = 240


def wait_for(condition: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(2)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}; daemon log:\n{log.read_text()[-4000:]}")


@pytest.fixture
def daemon(tmp_path: Path, pg_dsn: str, lake: S3LakeResource, catalog_server: CatalogServer) -> Iterator[tuple[DagsterInstance, Path]]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    write_instance_yaml(home, pg_dsn)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ECOM_PG_DSN": pg_dsn,
        "ECOM_S3_ENDPOINT_URL": lake.endpoint() or "",
        "ECOM_S3_BUCKET": lake.bucket_name(),
        "ECOM_API_BASE_URL": catalog_server.url,
        "ECOM_API_PAGE_SIZE": "40",
    }
    log = tmp_path / "daemon.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            yield instance, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def automation_has_ticked(instance: DagsterInstance) -> bool:
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.name == "ecommerce_automation_sensor" and instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1):
            return True
    return False


def test_raw_only_brings_ods_and_mart_by_itself(daemon: tuple[DagsterInstance, Path], lake: S3LakeResource,
                                                pg_dsn: str, catalog_server: CatalogServer) -> None:
    instance, log = daemon
    wait_for(lambda: automation_has_ticked(instance), WAIT_SECONDS, "the automation sensor's first tick", log)

    run_partition(make_resources(lake, pg_dsn, catalog_server.url), PARTITION, assets=[raw_products_parquet],
                  instance=instance)

    def mart_materialized() -> bool:
        return bool(instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey("dm_fct_ecommerce"), asset_partitions=[PARTITION]), limit=1).records)

    wait_for(mart_materialized, WAIT_SECONDS, f"dm_fct_ecommerce {PARTITION}", log)

    accepted, _ = expected_ods(fetch_all(catalog_server.url))
    assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s", (PARTITION,)) == [(len(accepted),)]
    mart = sorted(query(pg_dsn, "SELECT category, product_count, total_stock, avg_price, avg_rating FROM dm.fct_ecommerce "
                                "WHERE report_date = %s", (PARTITION,)))
    assert mart == expected_mart(accepted)

    # Exactly once: the raw run and one automation run for the partition, even after further ticks.
    time.sleep(20)
    runs = instance.get_runs(RunsFilter(tags={"dagster/partition": PARTITION}))
    assert len(runs) == 2, [(r.job_name, r.status, r.tags) for r in runs]
    automated = [r for r in runs if r.tags.get("dagster/from_automation_condition") == "true"
                 or "dagster/sensor_name" in r.tags]
    assert len(automated) == 1
    assert {k.to_user_string() for k in automated[0].asset_selection or []} == {"ods_fct_products", "dm_fct_ecommerce"}
