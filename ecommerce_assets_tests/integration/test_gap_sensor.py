"""product_changes_gap_sensor on a real instance and warehouse: which days it derives again after a load, and
which runs already in flight it trusts to do it."""

from typing import Any

from dagster import DagsterInstance, DagsterRunStatus, build_sensor_context
from dagster._core.test_utils import create_run_for_test

from ecommerce_assets.defs.products.keys import CHANGES, MART, ODS, RAW
from ecommerce_assets.defs.products.sensors import product_changes_gap_sensor
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.warehouse import WarehouseResource
from ecommerce_assets_tests.support.helpers import make_resources, run_partition
from ecommerce_catalog_server import CatalogServer

FIRST, THIRD = "2025-06-01", "2025-06-03"


def evaluate(instance: DagsterInstance, pg_dsn: str, cursor: str | None) -> Any:
    with build_sensor_context(instance=instance, cursor=cursor,
                              resources={"warehouse": WarehouseResource(dsn=pg_dsn)}) as context:
        return product_changes_gap_sensor()(context)


def requested(result: Any) -> list[tuple[str, list[str]]]:
    return sorted((r.partition_key, sorted(k.to_user_string() for k in r.asset_selection))
                  for r in result.run_requests)


def in_flight_run(instance: DagsterInstance, day: str) -> None:
    """A started run of the day's changes and mart, as the sensor's own request becomes once launched."""
    create_run_for_test(instance, job_name="__ASSET_JOB", status=DagsterRunStatus.STARTED,
                        tags={"dagster/partition": day}, asset_selection={CHANGES, MART})


def test_a_run_queued_before_a_load_does_not_stand_for_deriving_after_it(
        dagster_instance: DagsterInstance, lake: LakeResource, pg_dsn: str, catalog_server: CatalogServer) -> None:
    """The 3rd day lands first (no day before it: derived again); its run is still queued when the 1st day
    lands, which makes the 3rd day's changes compare with the 1st. That queued run may have derived the 3rd day
    from what it saw before, so the sensor asks again; a run queued after the load reads it, and is trusted."""
    resources = make_resources(lake, pg_dsn, catalog_server.url)
    run_partition(resources, THIRD, assets=[RAW, ODS], instance=dagster_instance)
    first = evaluate(dagster_instance, pg_dsn, None)
    assert requested(first) == [(THIRD, ["dm_fct_ecommerce", "dm_fct_product_changes"])]
    in_flight_run(dagster_instance, THIRD)  # launched, not yet done

    run_partition(resources, FIRST, assets=[RAW, ODS], instance=dagster_instance)
    second = evaluate(dagster_instance, pg_dsn, first.cursor)
    assert requested(second) == [(FIRST, ["dm_fct_ecommerce", "dm_fct_product_changes"]),
                                 (THIRD, ["dm_fct_ecommerce", "dm_fct_product_changes"])]

    # The same load seen again with a run of the 3rd day queued after it: that run will compare with the 1st day.
    in_flight_run(dagster_instance, THIRD)
    third = evaluate(dagster_instance, pg_dsn, first.cursor)
    assert requested(third) == [(FIRST, ["dm_fct_ecommerce", "dm_fct_product_changes"])]
