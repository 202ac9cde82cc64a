"""The sales domain on real services, against the oracle (support/sales_oracle.py: its own code, no pipeline
import): the real service's carts, users and products for one day; days of the simulator loaded out of
order, refetched, products after carts — every mart exact after each step; rejected carts accounted for."""

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from dagster import DagsterInstance

from ecommerce_assets.lake import LakeResource
from ecommerce_assets_tests.support import sales_oracle as oracle
from ecommerce_assets_tests.support.helpers import REAL_SERVICE, query
from ecommerce_assets_tests.support.shop import Shop, assert_marts, stored_orders, stored_sales
from ecommerce_catalog_server import CatalogServer
from ecommerce_catalog_server.catalog import Catalog, ListCatalog
from ecommerce_catalog_server.daily import DailyCatalog
from ecommerce_catalog_server.shop import DailyCarts, DailyUsers, RealService

REAL = REAL_SERVICE
PRODUCTS, CARTS, USERS = 60, 40, 30
DAYS = [date(2025, 5, 10) + timedelta(days=i) for i in range(3)]


@pytest.fixture
def shop(lake: LakeResource, pg_dsn: str, dagster_instance: DagsterInstance) -> Iterator[Shop]:
    with CatalogServer(DailyCatalog(PRODUCTS, DAYS[0])) as server:
        yield Shop(lake, pg_dsn, server, dagster_instance)


def sim(day: date, *, seed: int = 42) -> dict[str, Catalog]:
    return {"products": DailyCatalog(PRODUCTS, day, seed), "carts": DailyCarts(CARTS, PRODUCTS, USERS, day, seed),
            "users": DailyUsers(USERS, day, seed)}


def test_the_real_services_day(shop: Shop) -> None:
    """dummyjson.com's 194 products, 208 carts (800 lines) and 208 users as one day: 208 orders, every line
    kept, 0 rejected, the sales per category exactly as computed from the real carts and products."""
    real = RealService(REAL).collections()
    shop.load(DAYS[0], products=real["products"], carts=real["carts"], users=real["users"])
    assert query(shop.pg_dsn, "SELECT count(*), count(DISTINCT cart_id) FROM ods.fct_cart_lines") == [(800, 208)]
    assert query(shop.pg_dsn, "SELECT count(*) FROM ods.rejected_carts") == [(0,)]
    assert query(shop.pg_dsn, "SELECT count(*) FROM ods.dim_customers") == [(208,)]
    expected = assert_marts(shop)
    assert len(expected.orders) == 208 and sum(o[2] for o in expected.orders.values()) == 800
    # a product listed twice in a cart counts on both lines
    assert query(shop.pg_dsn, "SELECT count(*) FROM (SELECT cart_id FROM ods.fct_cart_lines GROUP BY cart_id "
                              "HAVING count(*) > count(DISTINCT product_id)) AS d") == [(12,)]
    categories = {p["category"] for p in real["products"].page(0, 194)}
    assert {c for _, c in stored_sales(shop.pg_dsn)} <= categories | {"(unknown)"}


def test_days_in_any_order_refetched_products_after_carts(shop: Shop) -> None:
    d1, d2, d3 = DAYS
    shop.load(d3, **sim(d3))
    assert_marts(shop)
    shop.load(d1, **sim(d1))  # a late earlier day: orders move to their true first day
    assert_marts(shop)
    moved = query(shop.pg_dsn, "SELECT count(*) FROM dm.fct_orders WHERE order_date = %s", (d1,))[0][0]
    assert moved > 0
    # d2: carts first, its products later
    day2 = sim(d2)
    shop.load(d2, carts=day2["carts"], users=day2["users"])
    assert_marts(shop)
    carts_first = stored_sales(shop.pg_dsn)
    assert any(category != "(unknown)" for _, category in carts_first)
    shop.load(d2, products=DailyCatalog(PRODUCTS, d2, seed=7))  # another assortment: other categories
    assert_marts(shop)
    assert stored_sales(shop.pg_dsn) != carts_first  # the products' day moved the categories of its orders
    # d2 refetched with other carts (the next day's listing): orders first seen on d2 move or change
    before = stored_orders(shop.pg_dsn)
    shop.load(d2, carts=DailyCarts(CARTS, PRODUCTS, USERS, d3, 7), refetch=True)
    expected = assert_marts(shop)
    assert stored_orders(shop.pg_dsn) != before
    # new vs returning customers follow the first order of each customer over every loaded day
    assert sum(c[2] for c in expected.customers.values()) == len({o[1] for o in expected.orders.values()})


def test_a_late_day_with_another_cart_of_a_known_customer_changes_their_old_first_day(shop: Shop) -> None:
    """A late earlier day holding another cart of a known customer moves their first order earlier, while every
    order of their old first day stays as it was: that day, not among the order dates that changed, has one
    returning customer more and one new customer less."""
    d1, _, d3 = DAYS
    carts = DailyCarts(CARTS, PRODUCTS, USERS, d3)
    shop.load(d3, products=DailyCatalog(PRODUCTS, d3), carts=carts)
    assert_marts(shop)
    before = query(shop.pg_dsn, "SELECT new_customers, returning_customers FROM dm.fct_customers_daily "
                                "WHERE report_date = %s", (d3,))
    assert before[0][1] == 0  # the first day loaded: every customer is new
    listed = carts.page(0, carts.total())
    another = {**listed[0], "id": max(int(c["id"]) for c in listed) + 1}
    shop.load(d1, products=DailyCatalog(PRODUCTS, d1), carts=ListCatalog([another]))
    assert_marts(shop)
    assert query(shop.pg_dsn, "SELECT order_date, user_id FROM dm.fct_orders WHERE order_id = %s",
                 (another["id"],)) == [(d1, another["userId"])]
    assert query(shop.pg_dsn, "SELECT new_customers, returning_customers FROM dm.fct_customers_daily "
                              "WHERE report_date = %s", (d3,)) == [(before[0][0] - 1, 1)]


def test_rejected_carts_are_kept_with_their_reason_and_every_line_accounted_for(shop: Shop) -> None:
    day = DAYS[0]
    carts = DailyCarts(400, PRODUCTS, USERS, day, awkward=True)
    shop.load(day, products=DailyCatalog(PRODUCTS, day), carts=carts, users=DailyUsers(USERS, day, awkward=True))
    texts = [oracle.dumps(c) for c in carts.page(0, carts.total())]
    expected = oracle.check_carts(texts)
    assert expected.rejected, "the awkward carts must include rejected ones"
    stored = dict(query(shop.pg_dsn, "SELECT record_index, reason FROM ods.rejected_carts"))
    assert stored == expected.rejected
    assert query(shop.pg_dsn, "SELECT count(*) FROM ods.fct_cart_lines") == [(len(expected.lines),)]
    assert shop.checks["ods_fct_cart_lines__accounts_for_every_line"] is True
    assert shop.checks["ods_dim_customers__accounts_for_every_user"] is True
    rejected_users = dict(query(shop.pg_dsn, "SELECT reason, count(*) FROM ods.rejected_users GROUP BY reason"))
    assert set(rejected_users) == {"id_not_integer", "not_an_object"}
    assert_marts(shop)


def test_the_largest_values_the_rules_accept_add_up_in_every_mart(shop: Shop) -> None:
    """Two products at the largest price and stock the ODS accepts, and an order of 150 lines each at the largest
    quantity and a line total just under the rules' bound: the category's inventory value (4.3e19), the order's
    units (3.2e11) and revenue (1.5e14) are sums no narrower column holds, and every mart is still exact."""
    day = DAYS[0]
    products = [dict(p) for p in DailyCatalog(PRODUCTS, day).page(0, PRODUCTS)]
    for product in products[:2]:
        product.update(price=9999999999.99, stock=2147483647, category=products[0]["category"])
    carts = DailyCarts(CARTS, PRODUCTS, USERS, day).page(0, CARTS)
    total = Decimal("465.66") * 2147483647  # 999,997,235,062.02
    line = {"id": products[0]["id"], "title": "the largest line", "price": 465.66, "quantity": 2147483647,
            "total": float(total), "discountPercentage": 0, "discountedTotal": float(total)}
    largest = dict(carts[0], products=[dict(line) for _ in range(150)], total=float(total * 150),
                   discountedTotal=float(total * 150), totalProducts=150, totalQuantity=2147483647 * 150)
    shop.load(day, products=ListCatalog(products), carts=ListCatalog([largest, *carts[1:]]),
              users=DailyUsers(USERS, day))
    assert query(shop.pg_dsn, "SELECT count(*) FROM ods.rejected_carts") == [(0,)]
    expected = assert_marts(shop)
    assert expected.orders[largest["id"]][3:] == (2147483647 * 150, total * 150, total * 150)
    category = products[0]["category"]
    value = sum((Decimal(str(p["price"])) * p["stock"] for p in products if p["category"] == category), Decimal(0))
    assert query(shop.pg_dsn, "SELECT inventory_value FROM dm.fct_ecommerce WHERE report_date = %s AND category = %s",
                 (day, category)) == [(value,)]
    assert value > Decimal("4.29e19")
    failed = sorted(name for name, passed in shop.checks.items() if not passed)
    assert failed == [], failed


def test_the_oracle_sees_what_the_real_data_says() -> None:
    """The oracle on the real carts: every line total = price × quantity, every cart total the sum of its lines."""
    carts = RealService(REAL).collection("carts")
    day = oracle.check_carts([oracle.dumps(c) for c in carts.page(0, carts.total())])
    assert (len(day.lines), len(day.rejected)) == (800, 0)
    assert sum((line.total for line in day.lines), Decimal(0)) > 0

