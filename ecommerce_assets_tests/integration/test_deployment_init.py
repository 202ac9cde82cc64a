"""The init steps the containers run, run here against the local PostgreSQL and S3 server (Metabase's API
by a local stand-in that keeps state like Metabase does)."""

import re
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql

from ecommerce_assets.lake import LakeResource
from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets_tests.support.http_servers import QuietHandler, serving
from ecommerce_deploy import cli
from ecommerce_deploy.init_warehouse import Login, WarehousePlan, dsn_for, init_warehouse
from ecommerce_deploy.metabase import (
    CARDS,
    DASHBOARD_NAME,
    DATABASE_NAME,
    MetabaseAdmin,
    WarehouseConnection,
    init_metabase,
)


@pytest.fixture
def plan(pg_admin_dsn: str) -> Iterator[WarehousePlan]:
    suffix = uuid.uuid4().hex[:8]
    plan = WarehousePlan(
        database=f"wh_{suffix}",
        pipeline=Login(f"pipe_{suffix}", f"p'w;\"{suffix}"),  # hostile characters in the password
        bi=Login(f"bi_{suffix}", f"bi pw {suffix}"),
        service_databases={f"dagster_{suffix}": Login(f"dagster_{suffix}", f"d-{suffix}")},
    )
    yield plan
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        for database in (plan.database, *plan.service_databases):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        for role in (plan.pipeline.name, plan.bi.name, *(login.name for login in plan.service_databases.values())):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_init_warehouse_creates_least_privilege_roles(pg_admin_dsn: str, plan: WarehousePlan) -> None:
    applied = init_warehouse(pg_admin_dsn, plan)
    assert applied == ["0000_migrations_table", "0001_initial", "0002_staging_schema", "0003_bi_reader",
                       "0004_partition_loads", "0005_product_history", "0006_ods_day_partitions", "0007_sales",
                       "0008_wide_totals"]
    assert init_warehouse(pg_admin_dsn, plan) == []  # idempotent

    pipeline_dsn = dsn_for(pg_admin_dsn, plan.pipeline, plan.database)
    bi_dsn = dsn_for(pg_admin_dsn, plan.bi, plan.database)
    with psycopg.connect(pipeline_dsn) as conn:
        owners = dict(conn.execute("SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace "
                                   "WHERE nspname IN ('ods', 'dm', 'staging', 'meta')").fetchall())
        assert owners == {s: plan.pipeline.name for s in ("ods", "dm", "staging", "meta")}
        conn.execute("INSERT INTO dm.fct_ecommerce (report_date, category, product_count, total_stock) "
                     "VALUES ('2025-01-01', 'x', 1, 2)")
        # the ODS is partitioned by day: the pipeline login makes a day's partition, as the loader does
        conn.execute("CREATE TABLE ods.fct_products_p20250101 PARTITION OF ods.fct_products FOR VALUES IN ('2025-01-01')")
        conn.execute("INSERT INTO ods.fct_products (snapshot_date, product_id, category) VALUES ('2025-01-01', 1, 'x')")

    # The BI login reads the marts and nothing else.
    with psycopg.connect(bi_dsn) as conn:
        assert conn.execute("SELECT category, total_stock FROM dm.fct_ecommerce").fetchall() == [("x", 2)]
    for statement in ("SELECT * FROM ods.fct_products", "SELECT * FROM ods.fct_products_p20250101",
                      "SELECT * FROM ods.rejected_products",
                      "INSERT INTO dm.fct_ecommerce (report_date, category, product_count, total_stock) "
                      "VALUES ('2025-01-02', 'y', 1, 1)",
                      "DELETE FROM dm.fct_ecommerce", "CREATE TABLE dm.mine (x int)", "SELECT * FROM meta.schema_migrations"):
        with psycopg.connect(bi_dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)

    # Service databases exist with their owners; their logins cannot read the warehouse.
    (database, owner), = plan.service_databases.items()
    with psycopg.connect(dsn_for(pg_admin_dsn, owner, database)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (database,)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn_for(pg_admin_dsn, owner, plan.database)).close()


def test_init_lake_creates_the_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = f"init-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("ECOM_S3_BUCKET", bucket)
    monkeypatch.setenv("ECOM_S3_ENDPOINT_URL", s3_endpoint)
    cli.main(["init-lake"])
    cli.main(["init-lake"])  # idempotent
    lake = LakeResource(endpoint_url=s3_endpoint)
    assert bucket in [b["Name"] for b in lake.get_client().list_buckets()["Buckets"]]
    lake.get_client().delete_bucket(Bucket=bucket)


@pytest.fixture
def metabase() -> Iterator[tuple[str, dict[str, Any]]]:
    """A server keeping databases, cards and dashboards like Metabase's API does, for the calls the setup makes:
    its URL and its state."""
    state: dict[str, Any] = {"user": None, "databases": [], "cards": [], "dashboards": [], "calls": []}

    class Handler(QuietHandler):
        def _authorized(self) -> bool:
            return self.headers.get("X-Metabase-Session") == "session-1"

        def do_GET(self) -> None:
            state["calls"].append(("GET", self.path))
            if self.path == "/api/health":
                return self.reply_json({"status": "ok"})
            if self.path == "/api/session/properties":
                return self.reply_json({"setup-token": "tok", "has-user-setup": state["user"] is not None})
            if not self._authorized():
                return self.reply_json({"message": "Unauthenticated"}, 401)
            key = {"/api/database": "databases", "/api/card": "cards", "/api/dashboard": "dashboards"}[self.path]
            return self.reply_json({"data": state[key]} if key == "databases" else state[key])

        def do_POST(self) -> None:
            body = self.json_body()
            state["calls"].append(("POST", self.path))
            if self.path == "/api/setup":
                assert body["token"] == "tok" and state["user"] is None
                state["user"] = body["user"]
                return self.reply_json({"id": "session-1"})
            if self.path == "/api/session":
                ok = state["user"] and body["username"] == state["user"]["email"] and \
                    body["password"] == state["user"]["password"]
                return self.reply_json({"id": "session-1"} if ok else {"errors": "bad"}, 200 if ok else 401)
            if not self._authorized():
                return self.reply_json({"message": "Unauthenticated"}, 401)
            key = {"/api/database": "databases", "/api/card": "cards", "/api/dashboard": "dashboards"}[self.path]
            item = {**body, "id": len(state[key]) + 1}
            state[key].append(item)
            return self.reply_json(item)

        def do_PUT(self) -> None:
            body = self.json_body()
            state["calls"].append(("PUT", self.path))
            dashboard_id = int(self.path.rsplit("/", 1)[1])
            dashboard = next(d for d in state["dashboards"] if d["id"] == dashboard_id)
            dashboard["dashcards"] = body["dashcards"]
            return self.reply_json(dashboard)

    with serving(Handler) as url:
        yield url, state


def test_init_metabase_registers_the_warehouse_and_a_dashboard(pg_admin_dsn: str, plan: WarehousePlan,
                                                              metabase: tuple[str, dict[str, Any]]) -> None:
    init_warehouse(pg_admin_dsn, plan)
    metabase_url, state = metabase
    admin = MetabaseAdmin("admin@example.com", "s3cret-admin")
    warehouse = WarehouseConnection("postgres_dwh", 5432, plan.database, plan.bi.name, plan.bi.password)
    first = init_metabase(metabase_url, admin, warehouse, wait_seconds=10)
    second = init_metabase(metabase_url, admin, warehouse, wait_seconds=10)  # a restart: nothing duplicated
    assert first == second == 1
    assert state["user"]["email"] == "admin@example.com"
    (database,) = state["databases"]
    assert database["name"] == DATABASE_NAME and database["engine"] == "postgres"
    assert database["details"] == {"host": "postgres_dwh", "port": 5432, "dbname": plan.database,
                                   "user": plan.bi.name, "password": plan.bi.password, "ssl": False}
    assert [c["name"] for c in state["cards"]] == [card.name for card in CARDS]
    (dashboard,) = state["dashboards"]
    assert dashboard["name"] == DASHBOARD_NAME
    assert sorted(d["card_id"] for d in dashboard["dashcards"]) == list(range(1, len(CARDS) + 1))
    assert ("POST", "/api/session") in state["calls"]  # the second run logged in instead of setting up

    # Every card's SQL runs on the real warehouse as the BI login (Metabase drops an optional [[...]] clause
    # whose variable is unset, and puts the number in when it is set).
    with psycopg.connect(dsn_for(pg_admin_dsn, plan.pipeline, plan.database)) as conn:
        conn.execute("INSERT INTO dm.fct_ecommerce (report_date, category, product_count, total_stock, avg_price, "
                     "avg_rating, out_of_stock_count) VALUES ('2025-01-01', 'beauty', 3, 10, 1.50, 4.00, 1)")
        conn.execute("INSERT INTO dm.fct_product_changes (change_date, product_id, change_type, previous_snapshot_date, "
                     "old_value, new_value, price_change_pct) VALUES ('2025-01-01', 7, 'price_changed', '2024-12-31', "
                     "'1.00', '2.00', 100), ('2025-01-01', 8, 'added', '2024-12-31', NULL, 'new', NULL)")
        conn.execute("INSERT INTO dm.product_intervals_ended (product_id, valid_from, valid_to, title, category, price) "
                     "VALUES (7, '2024-12-31', '2025-01-01', 'seven', 'beauty', 1.00)")
        conn.execute("INSERT INTO dm.product_intervals_current (product_id, valid_from, title, category, price) "
                     "VALUES (7, '2025-01-01', 'seven', 'beauty', 2.00), (8, '2025-01-01', 'e', 'x', 9)")
        conn.execute("INSERT INTO dm.fct_sales (order_date, category, orders, units, gross_revenue, net_revenue, "
                     "customers) VALUES ('2025-01-01', 'beauty', 2, 5, 20.00, 18.00, 2)")
        conn.execute("INSERT INTO dm.fct_customers_daily (report_date, orders, customers, new_customers, "
                     "returning_customers, net_revenue, avg_order_value) VALUES ('2025-01-01', 2, 2, 1, 1, 18.00, 9.00)")
    first_row = {"product_count": (date(2025, 1, 1), "beauty"), "total_stock": (date(2025, 1, 1), "beauty"),
                 "avg_price": (date(2025, 1, 1), "beauty"), "avg_rating": (date(2025, 1, 1), "beauty"),
                 "price_changes_per_day": (date(2025, 1, 1), 1), "out_of_stock_over_time": (date(2025, 1, 1), "beauty"),
                 "product_price_history": (date(2024, 12, 31), Decimal("1.00")),
                 "added_removed_per_day": (date(2025, 1, 1), 1),
                 "revenue_by_category": (date(2025, 1, 1), "beauty"), "orders_per_day": (date(2025, 1, 1), 2),
                 "new_vs_returning": (date(2025, 1, 1), 1)}
    with psycopg.connect(dsn_for(pg_admin_dsn, plan.bi, plan.database)) as conn:
        for stored, card in zip(state["cards"], CARDS, strict=True):
            query = stored["dataset_query"]["native"]["query"]
            assert query == SqlFiles("ecommerce_deploy").text(f"metabase/{card.query}.sql")
            assert set(stored["dataset_query"]["native"].get("template-tags", {})) == set(card.template_tags)
            unset = re.sub(r"\[\[.*?\]\]", "", query)
            rows = conn.execute(unset).fetchall()
            assert rows and rows[0][:2] == first_row[card.query], card.name
            for tag in card.template_tags:  # the filter set to product 8
                chosen = re.sub(r"\[\[(.*?)\]\]", r"\1", query).replace("{{" + tag + "}}", "8")
                assert conn.execute(chosen).fetchall()[0][:2] == (date(2025, 1, 1), Decimal("9.00"))
