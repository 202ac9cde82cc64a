"""Automation with a real PostgreSQL-backed instance and real materialization events."""

from typing import Any

import psycopg
from dagster import DagsterInstance, evaluate_automation_conditions, materialize

from ecommerce_assets.definitions import FOLLOW_UP_SENSORS, build_defs
from ecommerce_assets.defs.products.keys import CHANGES, HISTORY, MART, ODS, RAW, REJECTED
from ecommerce_assets.lake import LakeResource
from ecommerce_assets_tests.support.helpers import EVERYTHING, make_resources, run_partition, selection
from ecommerce_catalog_server import CatalogServer, Fault, FaultPlan
from ecommerce_local.follow_up import Cursors, settle


def requested(result: Any) -> dict[str, set[str | None]]:
    keys = (ODS, REJECTED, CHANGES, MART, HISTORY)
    return {key.to_user_string(): set(result.get_requested_partitions(key)) for key in keys
            if result.get_num_requested(key)}


def test_any_raw_partition_requests_its_ods_and_mart_once(dagster_instance: DagsterInstance, lake: LakeResource,
                                                          pg_dsn: str, catalog_server: CatalogServer) -> None:
    resources = make_resources(lake, pg_dsn, catalog_server.url)
    defs = build_defs(resources)
    first = evaluate_automation_conditions(defs=defs, instance=dagster_instance)
    assert first.total_requested == 0  # nothing materialized yet: nothing to follow

    # A historical partition (far outside the latest time window) and a recent one.
    for partition in ("2025-02-03", "2025-06-30"):
        run_partition(resources, partition, assets=[RAW], instance=dagster_instance)
    second = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=first.cursor)
    # the ODS of both days (one run of the rules writes both of its tables); not yet their changes and mart:
    # the day before each is missing, so only the gap sensor knows what they compare with
    assert requested(second) == {"ods_fct_products": {"2025-02-03", "2025-06-30"},
                                 "ods_rejected_products": {"2025-02-03", "2025-06-30"}}

    # Evaluated again without anything new: nothing more is requested.
    third = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=second.cursor)
    assert third.total_requested == 0

    # What follows, run as the daemon would run it: the ODS, then the gap sensor's changes and mart, then the
    # history once none is in flight, then the sales mart whose categories come from it — each exactly once,
    # and then nothing.
    cursors = Cursors(automation=third.cursor)
    for partition in ("2025-02-03", "2025-06-30"):
        run_partition(resources, partition, assets=[ODS], instance=dagster_instance)
    ran = [(request.partition, sorted(k.to_user_string() for k in request.assets))
           for request, result in settle(defs, dagster_instance, cursors, FOLLOW_UP_SENSORS) if result.success]
    assert sorted(ran, key=str) == sorted([
        ("2025-02-03", ["dm_fct_ecommerce", "dm_fct_product_changes"]),
        ("2025-06-30", ["dm_fct_ecommerce", "dm_fct_product_changes"]),
        (None, ["dm_dim_product_history"]),
        (None, ["dm_fct_sales"]),
    ], key=str)
    assert settle(defs, dagster_instance, cursors, FOLLOW_UP_SENSORS) == []


def test_the_day_after_is_derived_again_through_the_partition_mapping(
        dagster_instance: DagsterInstance, lake: LakeResource, pg_dsn: str, catalog_server: CatalogServer) -> None:
    """Days 2 then 1: loading day 1 makes day 2's changes stale, which the graph knows (day 2 depends on the
    day before): the automation requests them, not the sensor."""
    resources = make_resources(lake, pg_dsn, catalog_server.url)
    defs = build_defs(resources)
    run_partition(resources, "2025-05-02", instance=dagster_instance)  # the whole chain of day 2
    start = evaluate_automation_conditions(defs=defs, instance=dagster_instance)
    run_partition(resources, "2025-05-01", instance=dagster_instance)  # then day 1's
    after = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=start.cursor)
    assert requested(after) == {"dm_fct_product_changes": {"2025-05-02"}, "dm_fct_ecommerce": {"2025-05-02"},
                                "dm_dim_product_history": {None}}


def test_failed_upstream_requests_nothing(dagster_instance: DagsterInstance, lake: LakeResource, pg_dsn: str,
                                          catalog_server: CatalogServer) -> None:
    catalog_server.state.faults = FaultPlan(every={1: Fault("status", status=500)})
    resources = make_resources(lake, pg_dsn, catalog_server.url, max_retries=1)
    defs = build_defs(resources)
    first = evaluate_automation_conditions(defs=defs, instance=dagster_instance)
    result = run_partition(resources, "2025-02-04", assets=[RAW], instance=dagster_instance,
                           raise_on_error=False)
    assert not result.success
    second = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=first.cursor)
    assert second.total_requested == 0


def test_whole_chain_run_is_not_followed_by_a_second(dagster_instance: DagsterInstance, lake: LakeResource,
                                                     pg_dsn: str, catalog_server: CatalogServer) -> None:
    resources = make_resources(lake, pg_dsn, catalog_server.url)
    defs = build_defs(resources)
    first = evaluate_automation_conditions(defs=defs, instance=dagster_instance)
    run_partition(resources, "2025-02-05", instance=dagster_instance)
    second = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=first.cursor)
    # nothing of the chain again; only the history, which follows ODS updates and is not part of the chain
    assert requested(second) == {"dm_dim_product_history": {None}}
    third = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=second.cursor)
    assert third.total_requested == 0  # requested once, not again while it has not run


def test_a_tick_that_sees_a_runs_upstream_update_but_not_yet_its_mart_asks_nothing(
        dagster_instance: DagsterInstance, lake: LakeResource, pg_dsn: str, catalog_server: CatalogServer) -> None:
    """The race that rebuilt marts twice: the mart's request latched on its ODS update while the day's changes
    were missing; another run (the gap sensor's) then builds the changes and the mart, and a tick reads the
    log after the changes' event and the run's end but before the mart's. That tick must ask for nothing; the
    next one asks for the mart only if the run did not build it after all."""
    resources = make_resources(lake, pg_dsn, catalog_server.url)
    defs = build_defs(resources)
    day = "2025-02-03"
    start = evaluate_automation_conditions(defs=defs, instance=dagster_instance)
    run_partition(resources, day, assets=[RAW, ODS], instance=dagster_instance)
    latched = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=start.cursor)
    assert "dm_fct_ecommerce" not in requested(latched)  # the day's changes are missing: the mart waits for them
    # What that tick sees, made real: a run that targets the changes and the mart (as the gap sensor's does), over,
    # the changes stored, the mart not (its table away for a moment, so its step fails)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE dm.fct_ecommerce RENAME TO fct_ecommerce_away")
        try:
            # a run naming its assets, as a sensor's run request does (materialize()'s ephemeral job names none)
            run = defs.resolve_implicit_global_asset_job_def().execute_in_process(
                partition_key=day, instance=dagster_instance, asset_selection=[CHANGES, MART], raise_on_error=False)
        finally:
            conn.execute("ALTER TABLE dm.fct_ecommerce_away RENAME TO fct_ecommerce")
    assert {e.asset_key for e in run.get_asset_materialization_events()} == {CHANGES}
    assert run.dagster_run.asset_selection is not None and MART in run.dagster_run.asset_selection
    racing = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=latched.cursor)
    assert "dm_fct_ecommerce" not in requested(racing), requested(racing)  # before the fix: {'2025-02-03'}
    later = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=racing.cursor)
    assert requested(later).get("dm_fct_ecommerce") == {day}  # not built after all: asked for one tick late


def test_a_day_that_lands_while_the_history_runs_is_taken_by_another_history_run(
        dagster_instance: DagsterInstance, lake: LakeResource, pg_dsn: str, catalog_server: CatalogServer) -> None:
    """A history run started before the next day's ODS landed can end after it: a tick that sees both — the ODS
    updated, then the history materialized — must still ask for the history, whose run did not see that day.
    (Found by the chaos test under load: the history's own materialization counted as handling the ODS update,
    and the day waited for the next load.)"""
    resources = make_resources(lake, pg_dsn, catalog_server.url)
    defs = build_defs(resources)

    def build_history() -> None:
        assert materialize(EVERYTHING, selection=selection([HISTORY]), resources=dict(resources),
                           instance=dagster_instance).success

    start = evaluate_automation_conditions(defs=defs, instance=dagster_instance)
    run_partition(resources, "2025-06-29", assets=[RAW, ODS], instance=dagster_instance)
    first = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=start.cursor)
    assert requested(first).get("dm_dim_product_history") == {None}
    # the requested history run starts (a tick passes while it runs); the next day lands; the history run ends
    running = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=first.cursor)
    assert "dm_dim_product_history" not in requested(running)
    run_partition(resources, "2025-06-30", assets=[RAW, ODS], instance=dagster_instance)
    build_history()
    after = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=running.cursor)
    assert requested(after).get("dm_dim_product_history") == {None}, requested(after)
    # requested once: not again until it has run, and not again after it ran with nothing new
    again = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=after.cursor)
    assert "dm_dim_product_history" not in requested(again)
    build_history()
    quiet = evaluate_automation_conditions(defs=defs, instance=dagster_instance, cursor=again.cursor)
    assert "dm_dim_product_history" not in requested(quiet)
