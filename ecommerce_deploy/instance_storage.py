"""The Dagster instance's storage (dagster.yaml `storage: custom:`): dagster-postgres's run, event-log and
schedule storage over one pooled engine, which keeps a connection open between operations.

dagster-postgres opens a new PostgreSQL connection for every read and write of its storage (SQLAlchemy's
`NullPool`) — except in the webserver, which it switches to a pool of one per storage. Every event of every
run, every tick of the daemon's loops, every poll pays a connection: a backend forked, authenticated and torn
down (~5 ms of the server's CPU each, measured here, and as much again in the client). Here every process —
daemon, run workers, the local runner, a test — keeps one connection open for its three storages (none across
a fork: a child opens its own), checked before use (`pool_pre_ping`: a restarted server costs a reconnect, not
a failed operation), and opens more only while several of its threads need one at once, closing them when they
are done. So a process holds one idle connection (the webserver three): size `max_connections` for that plus
the bursts of the busiest moment.

Its storages also remember the schema features they found (a table or column that a migration added), which
dagster-postgres asks the server again at each use: SQLAlchemy's reflection of a table's columns at every read of
asset records and every asset event stored, `has_table` at every event with tags, the list of tables at every
tick of the daemon — catalog queries that cost the daemon, each run and the server more than the operation itself.
A feature found is kept (a migration adds, it does not take away); one not found is asked again, so a process
started before `dagster instance migrate` sees the features once it ran.

What a process learns of a database it keeps for every instance it makes of it (Dagster makes one per sensor
evaluation in the code server, one per `DagsterInstance.get()`): the pool, the features, and that its tables
exist (only the first instance of a process looks for them and creates what is missing)."""

import functools
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config

IDLE_CONNECTIONS = 1  # per process, kept open between operations
BURST_CONNECTIONS = 10  # more, while that many threads of the process need one at the same time
RECYCLE_SECONDS = 3600  # a connection older than this is replaced (a server-side idle timeout, a failover)
# the storages' questions about the schema, answered from memory once the server said yes
# (the `_…` ones take the connection to ask on, which is not part of the question)
SCHEMA_FEATURES = {
    "_event_log_storage": ("has_table", "has_asset_key_col", "_has_asset_key_col_on_connection", "has_secondary_index"),
    "_run_storage": ("has_run_stats_index_cols", "has_bulk_actions_selector_cols", "has_backfill_id_column",
                     "has_bulk_action_job_name_column", "has_backfill_tags_table", "has_built_index"),
    "_schedule_storage": ("has_secondary_index_table", "has_built_index", "has_instigators_table",
                          "_has_instigators_table", "_has_asset_daemon_asset_evaluations_table"),
}


def pooled_engine(postgres_url: str, token_provider: Any = None) -> sqlalchemy.engine.Engine:
    """An engine like dagster-postgres's own (autocommit), with a small pool instead of none."""
    engine = create_pg_engine(postgres_url, token_provider, isolation_level="AUTOCOMMIT",
                              pool_size=IDLE_CONNECTIONS, max_overflow=BURST_CONNECTIONS,
                              pool_pre_ping=True, pool_recycle=RECYCLE_SECONDS)
    # A forked child must not use its parent's connections (SQLAlchemy's advice: dispose without closing them)
    ref = weakref.ref(engine)
    os.register_at_fork(after_in_child=lambda: _forget(ref))
    return engine


def _forget(ref: "weakref.ReferenceType[sqlalchemy.engine.Engine]") -> None:
    engine = ref()
    if engine is not None:
        engine.dispose(close=False)


def remembered_once_true(question: Callable[..., bool], confirmed: set[tuple[Any, ...]]) -> Callable[..., bool]:
    """`question` asked of the server until it answers yes for these arguments, then answered from `confirmed`."""

    @functools.wraps(question)
    def ask(*args: Any) -> bool:
        asked = tuple(a for a in args if not isinstance(a, sqlalchemy.engine.Connection))
        if asked in confirmed:
            return True
        answer = question(*args)
        if answer:
            confirmed.add(asked)
        return answer

    return ask


@dataclass
class KnownDatabase:
    """What this process knows of one instance database, shared by every storage it makes of it."""

    engine: sqlalchemy.engine.Engine
    tables_exist: bool = False
    confirmed: dict[tuple[str, str], set[tuple[Any, ...]]] = field(default_factory=dict)  # (storage, question)


_KNOWN: dict[str, KnownDatabase] = {}  # by postgres_url
_KNOWN_LOCK = threading.Lock()


def known_database(postgres_url: str, token_provider: Any) -> KnownDatabase:
    """This process's knowledge of the database (a storage with a token provider keeps its own: its
    credentials are its own)."""
    if token_provider is not None:
        return KnownDatabase(pooled_engine(postgres_url, token_provider))
    with _KNOWN_LOCK:
        known = _KNOWN.get(postgres_url)
        if known is None:
            known = _KNOWN[postgres_url] = KnownDatabase(pooled_engine(postgres_url))
        return known


class PooledPostgresStorage(DagsterPostgresStorage):
    """dagster-postgres's storage (same tables, same configuration: `postgres_url` or `postgres_db`) whose
    three storages share one pooled engine (they share the URL) — the process's, for that database."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: ConfigurableClassData | None = None, token_provider: Any = None) -> None:
        known = known_database(postgres_url, token_provider)
        super().__init__(postgres_url, should_autocreate_tables and not known.tables_exist, inst_data, token_provider)
        known.tables_exist = True  # found or created by the first storage of this process
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            unpooled = storage._engine
            storage._engine = known.engine
            unpooled.dispose()
        for attribute, questions in SCHEMA_FEATURES.items():
            storage = getattr(self, attribute)
            for question in questions:
                if callable(getattr(storage, question, None)):
                    confirmed = known.confirmed.setdefault((attribute, question), set())
                    setattr(storage, question, remembered_once_true(getattr(storage, question), confirmed))

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> "PooledPostgresStorage":
        return cls(postgres_url=pg_url_from_config(config_value),
                   should_autocreate_tables=config_value.get("should_autocreate_tables", True),
                   inst_data=inst_data, token_provider=get_token_provider_from_config(config_value))
