"""End to end with a real `dagster-daemon`: materialize only raw; ODS, changes, mart and history follow by
themselves — for days arriving out of order too, each dependent partition exactly once."""

import time
from datetime import date
from pathlib import Path

from dagster import DagsterInstance, RunsFilter

from ecommerce_assets.defs.products.keys import RAW
from ecommerce_assets.lake import LakeResource
from ecommerce_assets_tests.support import history_oracle as oracle
from ecommerce_assets_tests.support.dagster_processes import (
    SENSOR_PACE,
    STACK_TEST,
    dagster_stack,
    materializations,
    sensor_has_ticked,
    wait_for,
)
from ecommerce_assets_tests.support.helpers import (
    expected_mart,
    expected_ods,
    fetch_all,
    make_resources,
    query,
    run_partition,
)
from ecommerce_catalog_server import CatalogServer
from ecommerce_catalog_server.daily import DailyCatalog

pytestmark = STACK_TEST
PARTITION = "2025-05-10"
WAIT_SECONDS = 240


def test_raw_only_brings_ods_and_mart_by_itself(tmp_path: Path, lake: LakeResource, pg_dsn: str,
                                                catalog_server: CatalogServer) -> None:
    with dagster_stack(tmp_path, pg_dsn, lake, catalog_server.url) as stack:
        instance = stack.instance
        wait_for(lambda: sensor_has_ticked(instance, "ecommerce_automation_sensor"), WAIT_SECONDS,
                 "the automation sensor's first tick", stack.log)

        run_partition(make_resources(lake, pg_dsn, catalog_server.url), PARTITION, assets=[RAW],
                      instance=instance)

        wait_for(lambda: bool(materializations(instance, "dm_fct_ecommerce", PARTITION, limit=1)), WAIT_SECONDS,
                 f"dm_fct_ecommerce {PARTITION}", stack.log)

        accepted, _ = expected_ods(fetch_all(catalog_server.url))
        assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s",
                     (PARTITION,)) == [(len(accepted),)]
        mart = sorted(query(pg_dsn, "SELECT category, product_count, total_stock, avg_price, avg_rating "
                                    "FROM dm.fct_ecommerce WHERE report_date = %s", (PARTITION,)))
        assert mart == expected_mart(accepted)

        # Exactly once, even after further ticks: the raw run, the automation's ODS run, and — the first day has
        # no day before it, which only the gap sensor can know — the sensor's run of its changes and mart.
        # (The history, then the sales mart whose categories come from it, follow too: not partitioned.)
        wait_for(lambda: sales_caught_up(pg_dsn), WAIT_SECONDS, "the sales mart after the history", stack.log, instance)
        assert_quiet(instance, stack.log)
        runs = instance.get_runs(RunsFilter(tags={"dagster/partition": PARTITION}))
        assert sorted(sorted(k.to_user_string() for k in r.asset_selection or []) for r in runs) == [
            [], ["dm_fct_ecommerce", "dm_fct_product_changes"], ["ods_fct_products", "ods_rejected_products"]], \
            [(r.job_name, r.status, r.tags) for r in runs]


def test_days_out_of_order_through_raw_only(tmp_path: Path, lake: LakeResource, pg_dsn: str) -> None:
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

        def built(asset: str, day: date) -> int:
            """In the event log, not in run tags: the daemon may group the work in one run per day, or a backfill
            of range runs when one tick asks for several days."""
            return len(materializations(instance, asset, day))

        for step, day in enumerate((days[2], days[0], days[1])):
            catalog = DailyCatalog(60, day)
            server.state.catalog = catalog
            snapshots[day] = oracle.snapshot(catalog.page(0, catalog.total()))
            run_partition(resources, str(day), assets=[RAW], instance=instance)
            expected = oracle.all_changes(snapshots)

            def settled(expected: set[tuple[object, ...]] = expected, loaded: int = step + 1) -> bool:
                """The history took the day, the changes are the oracle's, and every loaded day has its mart (the
                first day's changes are empty whether derived or not: its mart says the run is done, so the next
                load does not meet it in flight and the counts below stay one build per load)."""
                return (query(pg_dsn, "SELECT count(*) FROM meta.applied_loads WHERE consumer = 'dm.dim_product_history'") == [(loaded,)]
                        and set(query(pg_dsn, CHANGES)) == expected
                        and all(built("dm_fct_ecommerce", d) for d in snapshots))

            wait_for(settled, WAIT_SECONDS, f"changes and history after loading {day}", stack.log, instance)
        wait_for(lambda: sales_caught_up(pg_dsn), WAIT_SECONDS, "the sales mart after the history", stack.log, instance)
        assert_quiet(instance, stack.log)  # further ticks request nothing more
        expected_changes = oracle.all_changes(snapshots)
        assert set(query(pg_dsn, CHANGES)) == expected_changes
        assert set(query(pg_dsn, INTERVALS)) == oracle.intervals(snapshots)
        for day, snapshot in snapshots.items():
            mart = {r[0]: tuple(r[1:]) for r in query(pg_dsn, MART, (day,))}
            assert mart == oracle.mart_columns(day, snapshot, expected_changes), day

        # Each partition built once per load that changed what it reads, however the daemon grouped the work.
        for asset in ("raw_products_parquet", "ods_fct_products", "ods_rejected_products"):
            assert [built(asset, day) for day in days] == [1, 1, 1], asset
        # the 1st and 2nd day: once (through the gap sensor, or the automation once the day before is loaded);
        # the 3rd day: after it landed (no day before), after the 1st landed (a gap before it) and after the 2nd
        # landed (the day before it, declared)
        for asset in ("dm_fct_product_changes", "dm_fct_ecommerce"):
            assert [built(asset, day) for day in days] == [1, 1, 3], asset


def sales_caught_up(pg_dsn: str) -> bool:
    """The sales mart has taken in every day the product history has (what it follows, after the history)."""
    taken = "SELECT snapshot_date, loaded_at FROM meta.applied_loads WHERE consumer = %s"
    history = query(pg_dsn, taken, ("dm.dim_product_history",))
    return bool(history) and sorted(query(pg_dsn, taken + " AND source = 'dm.dim_product_history'",
                                          ("dm.fct_sales",))) == sorted(history)


def assert_quiet(instance: DagsterInstance, log: Path, seconds: float = 3 * SENSOR_PACE.seconds(30)) -> None:
    """Once every run has finished, nothing more is launched over three more ticks of the gap sensor (and more
    of the automation sensor, twice as often): polled, not slept."""
    def finished() -> bool:
        return all(r.status.value in ("SUCCESS", "FAILURE", "CANCELED") for r in instance.get_runs())

    def work() -> list[str]:
        """The runs of the pipeline's work: not those launched on the clock whatever happened — the freshness
        checks' own runs (their sensor's), and a schedule's (the ODS retention at 06:30 in its time zone fell inside
        this window once and failed the test)."""
        return [r.run_id for r in instance.get_runs()
                if r.tags.get("dagster/sensor_name") != "freshness_checks_sensor"
                and "dagster/schedule_name" not in r.tags]

    wait_for(finished, WAIT_SECONDS, "every run to finish", log, instance)
    runs = work()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert work() == runs, f"a run was launched after the work had settled; log:\n{log.read_text()[-3000:]}"
        time.sleep(1)


CHANGES = ("SELECT change_date, product_id, change_type, previous_snapshot_date, old_value, new_value, price_change_pct "
           "FROM dm.fct_product_changes")
INTERVALS = ("SELECT product_id, valid_from, valid_to, is_current, title, category, brand, price, discount_percentage, "
             "stock, availability_status, rating FROM dm.dim_product_history")
MART = ("SELECT category, out_of_stock_count, inventory_value, avg_discount_pct, price_changes FROM dm.fct_ecommerce "
        "WHERE report_date = %s")
