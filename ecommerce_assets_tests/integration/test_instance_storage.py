"""The Dagster instance's storage as dagster.yaml configures it (ecommerce_deploy/instance_storage.py): runs,
events and ticks read and written over one connection kept open, not a new connection per operation — and a
server that dropped it costs a reconnect, not an operation."""

from collections.abc import Iterator

import psycopg
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.test_utils import create_run_for_test

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
