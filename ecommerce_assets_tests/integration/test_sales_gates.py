"""Every gate of the sales domain shown failing on real services: the warehouse made to hold something other than
what the pipeline wrote (a trigger), or the API changing a cart after it was first seen — and what the gate
stops."""

from collections.abc import Iterator
from datetime import date, timedelta

import psycopg
import pytest
from dagster import DagsterInstance

from ecommerce_assets.lake import LakeResource
from ecommerce_assets_tests.support.helpers import query
from ecommerce_assets_tests.support.shop import Shop, assert_marts
from ecommerce_catalog_server import CatalogServer, ListCatalog
from ecommerce_catalog_server.daily import DailyCatalog
from ecommerce_catalog_server.shop import DailyCarts, DailyUsers, users_on

DAY = date(2025, 6, 2)
PRODUCTS, CARTS, USERS = 40, 30, 20


def execute(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(statement)


@pytest.fixture
def shop(lake: LakeResource, pg_dsn: str, dagster_instance: DagsterInstance) -> Iterator[Shop]:
    with CatalogServer(DailyCatalog(PRODUCTS, DAY)) as server:
        yield Shop(lake, pg_dsn, server, dagster_instance)


def carts(day: date = DAY) -> DailyCarts:
    return DailyCarts(CARTS, PRODUCTS, USERS, day)


def test_cart_lines_accounting_fails_when_the_warehouse_drops_a_line_and_orders_wait(shop: Shop) -> None:
    # a day's lines are COPYed into a table of their own and attached: an event trigger on the ALTER TABLE that
    # attaches it loses one line in the same transaction
    first_cart = min(c["id"] for c in carts().page(0, carts().total()))
    execute(shop.pg_dsn, f"""
        CREATE FUNCTION public.swallow() RETURNS event_trigger LANGUAGE plpgsql AS
        $$ BEGIN DELETE FROM ods.fct_cart_lines WHERE cart_id = {first_cart} AND line_no = 1; END $$;
        CREATE EVENT TRIGGER swallow ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION public.swallow();
    """)
    listed = sum(len(c["products"]) for c in carts().page(0, carts().total()))
    shop.strict = False  # the blocking gate fails the ODS run
    shop.load(DAY, carts=carts(), users=DailyUsers(USERS, DAY))
    assert shop.checks["ods_fct_cart_lines__accounts_for_every_line"] is False
    assert query(shop.pg_dsn, "SELECT count(*) FROM ods.fct_cart_lines") == [(listed - 1,)]
    # the failed gate stops what follows: no orders are derived from the day
    assert query(shop.pg_dsn, "SELECT count(*) FROM dm.fct_orders") == [(0,)]
    description = next(e.description for r in shop.runs for e in r.get_asset_check_evaluations()
                       if e.check_name == "ods_fct_cart_lines__accounts_for_every_line")
    assert f"{DAY}: the raw snapshot lists {listed} cart lines but {listed - 1} are stored" in (description or "")
    # once the day loads whole again, the gate holds and the orders follow
    execute(shop.pg_dsn, "DROP EVENT TRIGGER swallow; DELETE FROM meta.partition_loads "
                         "WHERE table_name = 'ods.fct_cart_lines'")
    shop.strict = True
    shop.load(DAY, carts=carts())
    assert shop.checks["ods_fct_cart_lines__accounts_for_every_line"] is True
    assert_marts(shop)


def test_customers_accounting_fails_when_the_warehouse_drops_a_user(shop: Shop) -> None:
    execute(shop.pg_dsn, """
        CREATE FUNCTION public.swallow() RETURNS event_trigger LANGUAGE plpgsql AS
        $$ BEGIN DELETE FROM ods.dim_customers WHERE user_id = 3; END $$;
        CREATE EVENT TRIGGER swallow ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION public.swallow();
    """)
    shop.strict = False  # the blocking gate fails the ODS run
    shop.load(DAY, users=DailyUsers(USERS, DAY))
    assert shop.checks["ods_dim_customers__accounts_for_every_user"] is False
    assert query(shop.pg_dsn, "SELECT count(*) FROM ods.dim_customers") == [(users_on(USERS, DAY) - 1,)]


def test_a_cart_changed_after_it_was_first_seen_is_counted_once_and_warned_about(shop: Shop) -> None:
    first = carts().page(0, carts().total())
    shop.load(DAY, products=DailyCatalog(PRODUCTS, DAY), carts=ListCatalog(first), users=DailyUsers(USERS, DAY))
    assert shop.checks["dm_fct_orders__changed_after_first_seen"] is True
    later = [{**c, "products": [{**c["products"][0], "quantity": c["products"][0]["quantity"] + 1,
                                 "total": round(c["products"][0]["price"] * (c["products"][0]["quantity"] + 1), 2),
                                 "discountedTotal": 0.0}, *c["products"][1:]]} if i < 2 else c
             for i, c in enumerate(first)]
    for cart in later[:2]:  # the cart's totals follow its lines (it is a valid cart)
        cart["total"] = round(sum(x["total"] for x in cart["products"]), 2)
        cart["discountedTotal"] = round(sum(x["discountedTotal"] for x in cart["products"]), 2)
    shop.load(DAY + timedelta(days=1), carts=ListCatalog(later))
    assert shop.checks["dm_fct_orders__changed_after_first_seen"] is False
    assert query(shop.pg_dsn, "SELECT count(*) FROM dm.fct_orders") == [(len(first),)]  # counted once
    expected = assert_marts(shop)  # each order keeps its first contents
    assert {o[0] for o in expected.orders.values()} == {DAY}


@pytest.mark.parametrize(("table", "check", "spoil"), [
    ("dm.fct_sales", "dm_fct_sales__reconciles_with_orders", "NEW.net_revenue := NEW.net_revenue + 0.01"),
    ("dm.fct_customers_daily", "dm_fct_customers_daily__reconciles_with_orders", "NEW.customers := NEW.customers + 1; NEW.returning_customers := NEW.returning_customers + 1"),
])
def test_sales_and_customers_reconciliation_fail_when_a_row_differs_from_the_orders(
        shop: Shop, table: str, check: str, spoil: str) -> None:
    execute(shop.pg_dsn, f"""
        CREATE FUNCTION public.inflate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {spoil}; RETURN NEW; END $$;
        CREATE TRIGGER inflate BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION public.inflate();
    """)
    shop.strict = False  # the blocking sales gate fails its run
    shop.load(DAY, products=DailyCatalog(PRODUCTS, DAY), carts=carts(), users=DailyUsers(USERS, DAY))
    assert shop.checks[check] is False
    description = next(e.description for r in shop.runs for e in r.get_asset_check_evaluations() if e.check_name == check)
    assert str(DAY) in (description or "") and "materialize" in (description or "")
