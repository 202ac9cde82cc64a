"""Roles, databases and migrations of the warehouse PostgreSQL, from a superuser connection.

Creates (idempotently) the pipeline login that owns the warehouse database and everything in it, a BI
login that can only read the marts (member of `bi_reader`), the databases the platform keeps its own
state in (Dagster, Airflow, Metabase), then runs the warehouse migrations as the pipeline login.
"""

from dataclasses import dataclass

import psycopg
from psycopg import sql

from ecommerce_assets.dsn import with_database
from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.warehouse import migrate

SQL = SqlFiles("ecommerce_deploy")
WAREHOUSE_SQL = SqlFiles("ecommerce_assets.warehouse")


@dataclass(frozen=True)
class Login:
    name: str
    password: str


@dataclass(frozen=True)
class WarehousePlan:
    database: str
    pipeline: Login
    bi: Login
    # other databases with their owner: Dagster's instance, Airflow's metadata, Metabase's application DB
    service_databases: dict[str, Login]


def dsn_for(admin_dsn: str, login: Login, database: str) -> str:
    return with_database(admin_dsn, database, (login.name, login.password))


def _ensure_login(conn: psycopg.Connection, login: Login) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login.name,)).fetchone()
    statement = "set_password" if exists else "create_login"
    conn.execute(SQL.composed(statement, role=sql.Identifier(login.name), password=sql.Literal(login.password)))


def ensure_database(conn: psycopg.Connection, database: str, owner: str) -> None:
    """Create `database` owned by `owner` unless it exists (`conn` in autocommit)."""
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
        conn.execute(SQL.composed("create_database", database=sql.Identifier(database), owner=sql.Identifier(owner)))


def init_warehouse(admin_dsn: str, plan: WarehousePlan) -> list[str]:
    """Apply `plan` with the superuser `admin_dsn`; returns the migrations applied."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for login in (plan.pipeline, plan.bi, *plan.service_databases.values()):
            _ensure_login(conn, login)
        ensure_database(conn, plan.database, plan.pipeline.name)
        for database, owner in plan.service_databases.items():
            ensure_database(conn, database, owner.name)
        # bi_reader is made by a superuser, so the pipeline login needs no CREATEROLE.
        conn.execute(WAREHOUSE_SQL.text("roles/bi_reader.sql"))
        conn.execute(SQL.composed("grant_membership", group=sql.Identifier("bi_reader"), role=sql.Identifier(plan.bi.name)))
        conn.execute(SQL.composed("revoke_public_connect", database=sql.Identifier(plan.database)))
        for role in (plan.pipeline.name, plan.bi.name):
            conn.execute(SQL.composed("grant_connect", database=sql.Identifier(plan.database), role=sql.Identifier(role)))
    # The migrations run as the pipeline login, so it owns the schemas and tables it creates.
    with psycopg.connect(dsn_for(admin_dsn, plan.pipeline, plan.database)) as conn:
        return migrate(conn)
