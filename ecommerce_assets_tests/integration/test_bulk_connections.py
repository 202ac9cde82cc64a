"""The warehouse resource's kept ADBC connections, against a real PostgreSQL: reused, never left inside a
transaction (so an idle one blocks no DROP of a day it read), closed after a failure and with the resource."""

import gc

import psycopg
import pyarrow as pa
import pytest

from ecommerce_assets.warehouse import WarehouseResource
from ecommerce_assets.warehouse.resource import ADBC_KEPT


def backend(postgres: WarehouseResource) -> int:
    return int(postgres.fetch_arrow("SELECT pg_backend_pid() AS pid").column("pid")[0].as_py())


def sessions(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        return [(str(state), str(app)) for state, app in conn.execute(
            "SELECT state, application_name FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'").fetchall()]


def test_a_connection_is_reused_and_left_outside_any_transaction(pg_dsn: str) -> None:
    postgres = WarehouseResource(dsn=pg_dsn)
    first = backend(postgres)
    assert backend(postgres) == first  # the same server process: the connection was kept
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.day (n int)")
    postgres.ingest("day", pa.table({"n": pa.array([1, 2], pa.int32())}), schema="public")
    assert postgres.fetch_arrow("SELECT count(*) AS n FROM public.day").column("n")[0].as_py() == 2
    assert [state for state, _ in sessions(pg_dsn)] == ["idle"]  # not "idle in transaction"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # a read holds no lock once given back
        conn.execute("SET lock_timeout = '2s'")
        conn.execute("DROP TABLE public.day")


def test_a_failed_connection_is_closed_not_handed_out_again(pg_dsn: str) -> None:
    postgres = WarehouseResource(dsn=pg_dsn)
    first = backend(postgres)
    with pytest.raises(Exception, match="no_such_table"):
        postgres.fetch_arrow("SELECT * FROM no_such_table")
    assert backend(postgres) != first
    assert len(sessions(pg_dsn)) == 1


def test_at_most_a_few_are_kept_and_they_close_with_the_resource(pg_dsn: str) -> None:
    postgres = WarehouseResource(dsn=pg_dsn)
    with postgres.bulk_connection() as a, postgres.bulk_connection() as b, postgres.bulk_connection() as c, \
            postgres.bulk_connection() as d, postgres.bulk_connection() as e:
        assert len({id(x) for x in (a, b, c, d, e)}) == 5
        assert len(sessions(pg_dsn)) == 5
    assert len(sessions(pg_dsn)) == ADBC_KEPT
    del postgres, a, b, c, d, e
    gc.collect()
    assert sessions(pg_dsn) == []
