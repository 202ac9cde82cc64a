"""Change over time, exact in any order: a week of simulated days loaded through Dagster in order, in
reverse, and shuffled with a day missing and a day reloaded after a refetch that changed it; after each
load, what the daemon would run next is run — the automation conditions (the next day's changes and mart
through the declared partition mapping, the history) and the gap sensor, evaluated against the instance. Every final state equals an oracle written independently in the test."""

import json
import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from dagster import DagsterInstance, materialize
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from ecommerce_assets.definitions import FOLLOW_UP_SENSORS, build_defs
from ecommerce_assets.defs.products.history import sync_history
from ecommerce_assets.defs.products.keys import CHANGES, MART, ODS, RAW
from ecommerce_assets.defs.products.retention import ods_retention_job
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.resources.quality_settings import QualitySettings
from ecommerce_assets.resources.retention import RetentionSettings
from ecommerce_assets.warehouse.tables import TableName, day_partition
from ecommerce_assets_tests.support import history_oracle as oracle
from ecommerce_assets_tests.support.helpers import (
    EVERYTHING,
    examples,
    expected_mart,
    expected_ods,
    make_resources,
    query,
    run_partition,
    selection,
)
from ecommerce_catalog_server import CatalogServer, JsonTextCatalog
from ecommerce_catalog_server.daily import DailyCatalog
from ecommerce_local.follow_up import Cursors, settle

SIZE = 80
WEEK = [date(2025, 3, 26) + timedelta(days=i) for i in range(7)]  # crosses a 30-day category block (day 90)


def catalog_of(day: date, seed: int = 42) -> DailyCatalog:
    return DailyCatalog(SIZE, day, seed=seed)


class Platform:
    """The pipeline on the test's services; after each load, what the daemon would run next (the automation
    conditions and the gap sensor, evaluated against the instance) is run, until nothing more is requested."""

    def __init__(self, lake: LakeResource, pg_dsn: str, server: CatalogServer, instance: DagsterInstance) -> None:
        self.resources = make_resources(lake, pg_dsn, server.url, page_size=25)
        self.server, self.instance, self.pg_dsn = server, instance, pg_dsn
        self.cursors = Cursors()
        self.loaded: dict[date, oracle.Snapshot] = {}
        self.settle()  # the evaluations' starting point: nothing is loaded yet

    def settle(self) -> None:
        for request, result in settle(build_defs(self.resources), self.instance, self.cursors, FOLLOW_UP_SENSORS):
            assert result.success, request

    def load(self, day: date, seed: int = 42, refetch: bool = False) -> None:
        catalog = catalog_of(day, seed)
        self.server.state.catalog = catalog
        run_partition(self.resources, str(day), refetch=refetch, instance=self.instance)  # raw -> ... -> mart
        self.loaded[day] = oracle.snapshot(catalog.page(0, catalog.total()))
        self.settle()


@pytest.fixture
def platform(lake: LakeResource, pg_dsn: str, dagster_instance: DagsterInstance) -> Iterator[Platform]:
    with CatalogServer(catalog_of(WEEK[0])) as server:
        yield Platform(lake, pg_dsn, server, dagster_instance)


def stored_changes(dsn: str) -> set[tuple[Any, ...]]:
    return set(query(dsn, "SELECT change_date, product_id, change_type, previous_snapshot_date, old_value, new_value, "
                          "price_change_pct FROM dm.fct_product_changes"))


def stored_intervals(dsn: str) -> set[tuple[Any, ...]]:
    return set(query(dsn, "SELECT product_id, valid_from, valid_to, is_current, " + ", ".join(oracle.TRACKED)
                          + " FROM dm.dim_product_history"))


def stored_mart_columns(dsn: str, day: date) -> dict[str, tuple[Any, ...]]:
    rows = query(dsn, "SELECT category, out_of_stock_count, inventory_value, avg_discount_pct, price_changes "
                      "FROM dm.fct_ecommerce WHERE report_date = %s", (day,))
    return {r[0]: tuple(r[1:]) for r in rows}


def assert_exact(platform: Platform) -> None:
    days = platform.loaded
    expected_changes = oracle.all_changes(days)
    assert stored_changes(platform.pg_dsn) == expected_changes
    assert stored_intervals(platform.pg_dsn) == oracle.intervals(days)
    for day, snapshot in days.items():
        assert stored_mart_columns(platform.pg_dsn, day) == oracle.mart_columns(day, snapshot, expected_changes), day
    # the first loaded day says it has nothing to compare with; every other its previous loaded day
    first = min(days)
    assert query(platform.pg_dsn, "SELECT count(*) FROM dm.fct_product_changes WHERE change_date = %s", (first,)) == [(0,)]


def test_the_week_has_every_kind_of_change() -> None:
    """The simulated week is a real test: every change type happens in it."""
    days = {day: oracle.snapshot(catalog_of(day).page(0, catalog_of(day).total())) for day in WEEK}
    kinds = {row[2] for row in oracle.all_changes(days)}
    assert kinds == {"added", "removed", "price_changed", "stock_out", "restocked", "category_changed"}


def test_loaded_in_order(platform: Platform) -> None:
    for day in WEEK:
        platform.load(day)
    assert_exact(platform)
    reference = (stored_changes(platform.pg_dsn), stored_intervals(platform.pg_dsn))
    # loading the same days again changes nothing
    for day in WEEK[-2:]:
        platform.load(day, refetch=True)
    assert (stored_changes(platform.pg_dsn), stored_intervals(platform.pg_dsn)) == reference
    assert query(platform.pg_dsn, "SELECT count(*) FROM meta.applied_loads WHERE consumer = 'dm.dim_product_history'") == [(len(WEEK),)]


def test_loaded_in_reverse(platform: Platform) -> None:
    for day in reversed(WEEK):
        platform.load(day)
    assert_exact(platform)


def test_shuffled_with_a_day_missing_and_a_day_refetched(platform: Platform) -> None:
    missing, refetched = WEEK[2], WEEK[4]
    order = [d for d in WEEK if d != missing]
    random.Random(7).shuffle(order)
    for day in order:
        # the first fetch of `refetched` got another day's catalog (a stale cache, say)
        platform.load(day, seed=99 if day == refetched else 42)
    platform.load(refetched, refetch=True)
    assert missing not in platform.loaded
    assert_exact(platform)
    after_gap = WEEK[3]
    assert query(platform.pg_dsn, "SELECT DISTINCT previous_snapshot_date FROM dm.fct_product_changes "
                                  "WHERE change_date = %s", (after_gap,)) == [(WEEK[1],)]  # skips the missing day


# ---- the history's interval edge cases, property-based, straight against the warehouse -------------------

ATTRIBUTES = st.fixed_dictionaries({
    "price": st.sampled_from([None, Decimal("1.00"), Decimal("2.50")]),
    "stock": st.sampled_from([None, 0, 3]),
    "category": st.sampled_from(["a", "b"]),
})
# per day (of five): for each of four products, absent (None) or its attributes
DAYS = st.lists(st.lists(st.one_of(st.none(), ATTRIBUTES), min_size=4, max_size=4), min_size=1, max_size=5)


def put_day(conn: psycopg.Connection, day: date, products: list[dict[str, Any] | None]) -> None:
    """The ODS partition of `day` as a load leaves it (rows and the load record, loaded_at bumped)."""
    conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF ods.fct_products FOR VALUES IN ({})").format(
        day_partition(TableName("ods", "fct_products"), day).ident, sql.Literal(day)))
    conn.execute("DELETE FROM ods.fct_products WHERE snapshot_date = %s", (day,))
    for pid, attrs in enumerate(products, start=1):
        if attrs is not None:
            conn.execute("INSERT INTO ods.fct_products (snapshot_date, product_id, title, category, price, stock) "
                         "VALUES (%s, %s, %s, %s, %s, %s)",
                         (day, pid, f"p{pid}", attrs["category"], attrs["price"], attrs["stock"]))
    conn.execute("INSERT INTO meta.partition_loads (table_name, partition_date, row_count) VALUES "
                 "('ods.fct_products', %s, 0) ON CONFLICT (table_name, partition_date) DO UPDATE SET "
                 "loaded_at = clock_timestamp()", (day,))


def as_snapshot(products: list[dict[str, Any] | None]) -> oracle.Snapshot:
    return {pid: {"title": f"p{pid}", "category": a["category"], "brand": None, "price": a["price"],
                  "discount_percentage": None, "stock": a["stock"], "availability_status": None, "rating": None}
            for pid, a in enumerate(products, start=1) if a is not None}


@pytest.fixture
def warehouse(pg_dsn: str) -> str:
    return pg_dsn


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(days=DAYS, order_seed=st.integers(0, 1000), skip=st.integers(0, 5), late=st.integers(0, 4))
def test_intervals_in_any_load_order_equal_the_oracle(warehouse: str, days: list[list[dict[str, Any] | None]],
                                                      order_seed: int, skip: int, late: int) -> None:
    dates = [date(2025, 6, 1) + timedelta(days=2 * i) for i in range(len(days))]  # gaps between loaded days
    kept = [i for i in range(len(days)) if i != skip or len(days) == 1]
    order = list(kept)
    random.Random(order_seed).shuffle(order)
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("TRUNCATE ods.fct_products, dm.product_intervals_current, dm.product_intervals_ended, "
                     "meta.applied_loads, meta.partition_loads")
        for step, i in enumerate(order):
            put_day(conn, dates[i], days[i])
            if step % 2 == 0 or step == late:  # the history catches up after some loads, not all
                sync_history(conn)
        if late < len(kept):  # a day loaded again, changed (product 1 gone), after the rest
            i = kept[late]
            days[i] = [None, *days[i][1:]]
            put_day(conn, dates[i], days[i])
        sync_history(conn)
        assert sync_history(conn).days == []  # nothing left to take in
    expected = oracle.intervals({dates[i]: as_snapshot(days[i]) for i in kept})
    assert stored_intervals(warehouse) == expected


def run_range(platform: Platform, first: date, last: date, raise_on_error: bool = True) -> Any:
    """One run over a range of days for the warehouse assets, as a batched backfill launches it."""
    return materialize(EVERYTHING, selection=selection([ODS, CHANGES, MART]),
                       tags={ASSET_PARTITION_RANGE_START_TAG: str(first), ASSET_PARTITION_RANGE_END_TAG: str(last)},
                       resources=platform.resources, instance=platform.instance, raise_on_error=raise_on_error)


def store_raw(platform: Platform, day: date, catalog: DailyCatalog) -> None:
    platform.server.state.catalog = catalog
    run_partition(platform.resources, str(day), assets=[RAW], instance=platform.instance)


def evaluations(result: Any, check: str) -> dict[str, Any]:
    """One check's evaluations in a run, by day."""
    return {e.partition: e for e in result.get_asset_check_evaluations() if e.check_name == check}


def test_a_backfill_range_in_one_run_equals_the_oracle(platform: Platform) -> None:
    for day in WEEK:
        store_raw(platform, day, catalog_of(day))
        platform.loaded[day] = oracle.snapshot(catalog_of(day).page(0, catalog_of(day).total()))
    result = run_range(platform, WEEK[0], WEEK[-1])
    platform.settle()  # the history follows
    assert_exact(platform)
    for day in WEEK:  # and the mart's base columns, from the records by the independent rules
        accepted, _ = expected_ods(catalog_of(day).page(0, catalog_of(day).total()))
        assert query(platform.pg_dsn, "SELECT category, product_count, total_stock, avg_price, avg_rating "
                                      "FROM dm.fct_ecommerce WHERE report_date = %s ORDER BY 1", (day,)) == \
            expected_mart(accepted), day
    # one run, each asset one step over the seven days, each day recorded as materialized by it
    materialized = {(e.asset_key.to_user_string(), e.partition) for e in result.get_asset_materialization_events()
                    for e in [e.event_specific_data.materialization]}  # type: ignore[union-attr]
    assert materialized == {(asset, str(day)) for asset in ("ods_fct_products", "ods_rejected_products",
                                                             "dm_fct_product_changes", "dm_fct_ecommerce") for day in WEEK}
    assert {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"} >= {
        "ods_products", "dm_fct_product_changes", "dm_fct_ecommerce"}
    # every check evaluated for every day of the range, against that day
    for check in ("ods_fct_products__accounts_for_every_record", "ods_fct_products__rejected_share",
                  "dm_fct_ecommerce__reconciles_with_ods"):
        by_day = evaluations(result, check)
        assert sorted(by_day) == [str(day) for day in WEEK], check
        assert all(e.passed for e in by_day.values()), check
    # the same range again: every day unchanged, nothing re-derived differently
    before = (stored_changes(platform.pg_dsn), query(platform.pg_dsn, "SELECT * FROM dm.fct_ecommerce ORDER BY 1, 2"))
    again = run_range(platform, WEEK[0], WEEK[-1])
    ods_out = next(e for e in again.get_asset_materialization_events()
                   if e.event_specific_data.materialization.asset_key.to_user_string() == "ods_fct_products")  # type: ignore[union-attr]
    assert ods_out.event_specific_data.materialization.metadata["rows_unchanged"].value == sum(  # type: ignore[union-attr]
        len(s) for s in platform.loaded.values())
    assert (stored_changes(platform.pg_dsn), query(platform.pg_dsn, "SELECT * FROM dm.fct_ecommerce ORDER BY 1, 2")) == before


def test_a_backfill_range_with_a_refused_day_writes_no_mart_and_names_the_day(platform: Platform) -> None:
    days = WEEK[:3]
    for day in days:  # the middle day's catalog shrank to a tenth: the ODS shrink gate refuses it
        store_raw(platform, day, DailyCatalog(8, day, seed=42) if day == days[1] else catalog_of(day))
    result = run_range(platform, days[0], days[-1], raise_on_error=False)
    assert not result.success
    shrink = evaluations(result, "ods_fct_products__catalog_shrink")
    assert [day for day, e in sorted(shrink.items()) if not e.passed] == [str(days[1])]
    text = shrink[str(days[1])].description or ""
    assert text.startswith(f"{days[1]}: the catalog shrank") and "confirm_shrink: true" in text
    assert query(platform.pg_dsn, "SELECT count(*) FROM dm.fct_ecommerce") == [(0,)]  # no day of the range
    assert query(platform.pg_dsn, "SELECT count(*) FROM dm.fct_product_changes") == [(0,)]
    assert query(platform.pg_dsn, "SELECT count(DISTINCT snapshot_date) FROM ods.fct_products") == [(3,)]


def test_a_backfill_range_with_one_spoiled_day_fails_that_days_check_and_names_it(platform: Platform) -> None:
    platform.resources["quality"] = QualitySettings(max_rejected_share=0.05)
    days = WEEK[:3]
    spoiled = days[1]
    records = catalog_of(spoiled).page(0, catalog_of(spoiled).total())
    bad = {r["id"] for r in records[::2]}  # every other record's price is not a number: half rejected
    texts = [json.dumps({**r, "price": "n/a"} if r["id"] in bad else r).encode() for r in records]
    for day in days:
        platform.server.state.catalog = JsonTextCatalog(texts) if day == spoiled else catalog_of(day)
        run_partition(platform.resources, str(day), assets=[RAW], instance=platform.instance)
    result = run_range(platform, days[0], days[-1], raise_on_error=False)
    share = evaluations(result, "ods_fct_products__rejected_share")
    assert {day: e.passed for day, e in share.items()} == {str(days[0]): True, str(spoiled): False, str(days[2]): True}
    failed = share[str(spoiled)]
    assert failed.description is not None and failed.description.startswith(f"{spoiled}: ")
    assert "accept_rejected_share" in failed.description
    assert failed.metadata["rejected"].value == len(bad)
    assert failed.metadata["rejected_share"].value == 0.5 and failed.metadata["threshold"].value == 0.05
    for name in ("ods_fct_products__accounts_for_every_record", "ods_fct_products__rules_hold"):
        assert [e.passed for e in evaluations(result, name).values()] == [True] * 3, name
    # the ODS kept every day (the spoiled one's bad records quarantined with their reason) ...
    assert query(platform.pg_dsn, "SELECT snapshot_date, reason, count(*) FROM ods.rejected_products "
                                  "GROUP BY 1, 2") == [(spoiled, "price_not_numeric", len(bad))]
    assert query(platform.pg_dsn, "SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %s",
                 (spoiled,)) == [(len(records) - len(bad),)]
    # ... and nothing after the ODS was built for the range
    assert not result.success
    assert query(platform.pg_dsn, "SELECT count(*) FROM dm.fct_ecommerce") == [(0,)]


def test_retention_drops_old_days_once_the_history_has_them_and_everything_derived_stays_exact(
        platform: Platform) -> None:
    platform.resources["retention"] = RetentionSettings(ods_days=3)
    for day in WEEK:
        store_raw(platform, day, catalog_of(day))
        platform.loaded[day] = oracle.snapshot(catalog_of(day).page(0, catalog_of(day).total()))
    run_range(platform, WEEK[0], WEEK[-1])

    def retention() -> list[str]:
        result = ods_retention_job.execute_in_process(resources=platform.resources, instance=platform.instance)
        return list(result.output_for_node("retire_ods_products_days"))

    assert retention() == []  # the history has not taken the days in: nothing may go
    assert query(platform.pg_dsn, "SELECT count(DISTINCT snapshot_date) FROM ods.fct_products") == [(len(WEEK),)]
    platform.settle()  # the history follows
    kept = [d for d in WEEK if d > WEEK[-1] - timedelta(days=3)]
    assert retention() == [str(d) for d in WEEK if d not in kept]
    assert query(platform.pg_dsn, "SELECT DISTINCT snapshot_date FROM ods.fct_products ORDER BY 1") == [(d,) for d in kept]
    # Dagster saw each dropped day: an observation of its ODS partition
    observed = {(r.partition_key, r.event_log_entry.asset_observation.metadata["retired"].value)  # type: ignore[union-attr]
                for r in platform.instance.fetch_observations(ODS, limit=50).records}
    assert observed == {(str(d), True) for d in WEEK if d not in kept}
    assert_exact(platform)  # changes, intervals and mart of all seven days, though four left the ODS
