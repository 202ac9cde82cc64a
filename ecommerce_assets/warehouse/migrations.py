"""Versioned warehouse migrations (`sql/migrations/NNNN_name.sql`), applied once each, in order."""

from importlib import resources

import psycopg

from ecommerce_assets.sql_files import SqlFiles

SQL = SqlFiles("ecommerce_assets.warehouse")

_LOCK_KEY = 0x65636F6D  # advisory lock serialising concurrent migrators


def migration_names() -> list[str]:
    folder = resources.files("ecommerce_assets.warehouse").joinpath("sql", "migrations")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply the migrations `conn`'s database lacks, in one transaction; returns the versions applied."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        names = migration_names()
        conn.execute(SQL.text(f"migrations/{names[0]}"))  # the table that records the others
        conn.execute(SQL.text("roles/bi_reader.sql"))  # a no-op once it exists (init-warehouse makes it)
        done = {row[0] for row in conn.execute("SELECT version FROM meta.schema_migrations")}
        for name in names:
            version = name.removesuffix(".sql")
            if version in done:
                continue
            conn.execute(SQL.text(f"migrations/{name}"))
            conn.execute("INSERT INTO meta.schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
    return applied_now


class SchemaNotCurrent(RuntimeError):
    """The warehouse lacks migrations this code needs; runs do not apply them (they run as a login that
    may not create anything), a set-up step does."""


def missing_migrations(conn: psycopg.Connection) -> list[str]:
    """The migrations this code expects that the warehouse has not recorded (all of them when it was
    never migrated)."""
    expected = [name.removesuffix(".sql") for name in migration_names()]
    with conn.transaction():
        if conn.execute("SELECT to_regclass('meta.schema_migrations')").fetchone() == (None,):
            return expected
        done = {row[0] for row in conn.execute("SELECT version FROM meta.schema_migrations")}
    return [version for version in expected if version not in done]


def require_current_schema(conn: psycopg.Connection) -> None:
    """Raise SchemaNotCurrent, naming the command to run, unless every migration is applied."""
    missing = missing_migrations(conn)
    if missing:
        raise SchemaNotCurrent(
            f"the warehouse schema is not current: {len(missing)} migration(s) missing "
            f"({', '.join(missing)}). Run `ecommerce-warehouse migrate` with ECOM_PG_DSN set to a login that "
            "owns the warehouse (the compose stack's warehouse-init and ./scripts/run.sh do this at set-up); "
            "pipeline runs only check the schema, they never change it."
        )
