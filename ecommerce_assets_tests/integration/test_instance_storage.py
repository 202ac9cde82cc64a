"""The Dagster instance's storage as dagster.yaml configures it (ecommerce_deploy/instance_storage.py): runs,
events and ticks read and written over one connection kept open, not a new connection per operation — and a
server that dropped it costs a reconnect, not an operation; the schema's features are asked of the server
once, not at every operation."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy
from dagster import AssetKey, AssetMaterialization, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.test_utils import create_run_for_test

from ecommerce_assets_tests.support.helpers import write_instance_yaml
from ecommerce_deploy.instance_storage import SCHEMA_FEATURES

OPERATIONS = 40


def storage_backends(pg_admin_dsn: str, database: str) -> set[int]:
    """The server processes connected to `database` (the instance's, not this test's own admin connection)."""
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                            (database,)).fetchall()
    return {pid for (pid,) in rows}


def work(instance: DagsterInstance) -> None:
    """Writes and reads of the three storages: runs, events, instigator state."""
    for n in range(OPERATIONS // 4):
        run = create_run_for_test(instance, job_name="a_job", status=DagsterRunStatus.STARTED, tags={"n": str(n)})
        instance.report_engine_event(f"event {n}", run)
        assert instance.get_runs(RunsFilter(tags={"n": str(n)}))[0].run_id == run.run_id
        assert instance.all_instigator_state() == []


@pytest.fixture
def database(dagster_instance: DagsterInstance, pg_dsn: str) -> Iterator[str]:
    yield psycopg.conninfo.conninfo_to_dict(pg_dsn)["dbname"]  # type: ignore[misc]


def test_operations_reuse_the_connections_kept_open(dagster_instance: DagsterInstance, database: str,
                                                    pg_admin_dsn: str) -> None:
    work(dagster_instance)  # the first operations open what the storages keep
    kept = storage_backends(pg_admin_dsn, database)
    assert len(kept) == 1, kept  # one, kept open between operations, for the three storages
    work(dagster_instance)
    assert storage_backends(pg_admin_dsn, database) == kept  # the same connections served every operation
    records = dagster_instance.get_records_for_run(
        dagster_instance.get_runs(limit=1)[0].run_id, of_type=DagsterEventType.ENGINE_EVENT).records
    assert [r.event_log_entry.message for r in records] == [f"event {OPERATIONS // 4 - 1}"]


def test_connections_the_server_dropped_are_replaced_before_use(dagster_instance: DagsterInstance, database: str,
                                                                 pg_admin_dsn: str) -> None:
    work(dagster_instance)
    kept = storage_backends(pg_admin_dsn, database)
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:  # as a server restart or an idle timeout would
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                     "AND pid <> pg_backend_pid()", (database,))
    work(dagster_instance)  # no operation fails: each dead connection is found before use and replaced
    replaced = storage_backends(pg_admin_dsn, database)
    assert replaced and not replaced & kept, (kept, replaced)


def statements_sent(engine: sqlalchemy.engine.Engine, operations: Callable[[], None]) -> list[str]:
    """Every statement sent over `engine` during `operations`."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    sqlalchemy.event.listen(engine, "before_cursor_execute", record)
    try:
        operations()
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", record)
    return sent


def about_the_schema(statements: list[str]) -> list[str]:
    """The statements that ask PostgreSQL's catalogs about the schema."""
    return [s for s in statements if "pg_catalog" in s or "information_schema" in s]


def catalog_queries(instance: DagsterInstance, operations: Callable[[], None]) -> list[str]:
    """The statements about the schema that the storages sent during `operations` (over the pooled engine the
    three storages share)."""
    return about_the_schema(statements_sent(instance.run_storage._engine, operations))  # type: ignore[attr-defined]


def asset_work(instance: DagsterInstance) -> None:
    """What a run and the daemon's automation do most: store an asset's materialization, read asset records."""
    run = create_run_for_test(instance, job_name="a_job", status=DagsterRunStatus.STARTED)
    instance.report_runless_asset_event(AssetMaterialization("an_asset", partition="2025-05-10",
                                                             tags={"dagster/data_version": "v1"}))
    instance.report_engine_event("event", run)
    assert [r.asset_entry.asset_key for r in instance.get_asset_records([AssetKey("an_asset")])] == [AssetKey("an_asset")]
    assert instance.get_run_records(RunsFilter(run_ids=[run.run_id]))[0].dagster_run.run_id == run.run_id
    # what the daemon's loops ask at every tick: instigator state, ticks
    assert instance.all_instigator_state() == []
    assert instance.schedule_storage.supports_batch_queries  # type: ignore[union-attr]


def test_schema_features_are_asked_of_the_server_once(dagster_instance: DagsterInstance) -> None:
    first = catalog_queries(dagster_instance, lambda: asset_work(dagster_instance))
    assert first  # dagster-postgres asks whether its tables and columns exist...
    for _ in range(3):  # ...and, once they did, is answered from memory: not one more catalog query
        assert catalog_queries(dagster_instance, lambda: asset_work(dagster_instance)) == []


def test_every_remembered_question_is_one_the_storages_ask(dagster_instance: DagsterInstance) -> None:
    """A Dagster upgrade that renames a question is noticed here, not silently asked of the server again."""
    storages = {"_event_log_storage": dagster_instance.event_log_storage, "_run_storage": dagster_instance.run_storage,
                "_schedule_storage": dagster_instance.schedule_storage}
    assert storages.keys() == SCHEMA_FEATURES.keys()
    for attribute, questions in SCHEMA_FEATURES.items():
        for question in questions:
            assert hasattr(getattr(storages[attribute], question), "__wrapped__"), (attribute, question)


def test_another_instance_of_the_database_in_the_process_reuses_what_the_first_learned(
        tmp_path: Path, pg_dsn: str, pg_admin_dsn: str) -> None:
    """Dagster makes an instance per sensor evaluation in the code server: the next one opens no connection of
    its own and asks the server nothing about the schema (the first looked for the tables and found them)."""
    write_instance_yaml(tmp_path, pg_dsn)
    with DagsterInstance.from_config(str(tmp_path)) as first:
        asset_work(first)
        database = str(psycopg.conninfo.conninfo_to_dict(pg_dsn)["dbname"])
        kept = storage_backends(pg_admin_dsn, database)
        engine = first.run_storage._engine  # type: ignore[attr-defined]

        def second_instance() -> None:
            with DagsterInstance.from_config(str(tmp_path)) as second:
                assert second.run_storage._engine is engine  # type: ignore[attr-defined]
                asset_work(second)

        sent = statements_sent(engine, second_instance)
        assert sent and about_the_schema(sent) == [], sent
        assert storage_backends(pg_admin_dsn, database) == kept
