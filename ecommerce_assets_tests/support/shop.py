"""The pipeline of both domains on a test's services, driven day by day as the daemon would drive it, and
what its sales marts hold."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult, materialize

from ecommerce_assets.definitions import FOLLOW_UP_SENSORS, build_defs
from ecommerce_assets.lake import LakeResource
from ecommerce_assets_tests.support import sales_oracle as oracle
from ecommerce_assets_tests.support.helpers import make_resources, query
from ecommerce_catalog_server import CatalogServer
from ecommerce_catalog_server.catalog import Catalog
from ecommerce_local.follow_up import Cursors, settle

RAW_PRODUCTS, RAW_CARTS, RAW_USERS = (AssetKey(n) for n in ("raw_products_parquet", "raw_carts_parquet",
                                                            "raw_users_parquet"))


class Shop:
    """The pipeline on the test's services: a day's raw snapshots are fetched, then what the daemon would run
    (automation) is run until nothing more is requested."""

    def __init__(self, lake: LakeResource, pg_dsn: str, server: CatalogServer, instance: DagsterInstance) -> None:
        self.resources = make_resources(lake, pg_dsn, server.url, page_size=25)
        self.defs = build_defs(self.resources)
        self.server, self.instance, self.pg_dsn = server, instance, pg_dsn
        self.cursors = Cursors()
        self.checks: dict[str, bool] = {}  # each check's latest result
        self.runs: list[ExecuteInProcessResult] = []  # what followed, in order
        self.strict = True  # every run that follows must succeed
        self.carts: dict[date, list[oracle.Line]] = {}
        self.products: dict[date, dict[int, str]] = {}
        self.settle()

    def settle(self) -> None:
        for request, result in settle(self.defs, self.instance, self.cursors, FOLLOW_UP_SENSORS):
            assert result.success or not self.strict, request
            self.runs.append(result)
            self.checks.update({e.check_name: e.passed for e in result.get_asset_check_evaluations()})

    def fetch(self, day: date, raw: Sequence[AssetKey], refetch: bool = False) -> ExecuteInProcessResult:
        everything: list[Any] = [*(self.defs.assets or []), *(self.defs.asset_checks or [])]
        config = {"ops": {key.to_python_identifier(): {"config": {"refetch": refetch, "allow_late_fetch": True}}
                          for key in raw}}
        return materialize(everything, selection=raw, partition_key=str(day), resources=self.resources,
                           run_config=config, instance=self.instance)

    def load(self, day: date, *, products: Catalog | None = None, carts: Catalog | None = None,
             users: Catalog | None = None, refetch: bool = False) -> None:
        """Serve the given collections for `day`, fetch them, let everything follow."""
        raw = []
        if products is not None:
            self.server.state.catalog = products
            raw.append(RAW_PRODUCTS)
            self.products[day] = {int(p["id"]): str(p["category"]) for p in products.page(0, products.total())}
        for name, collection, key in (("carts", carts, RAW_CARTS), ("users", users, RAW_USERS)):
            if collection is not None:
                self.server.state.collections[name] = collection
                raw.append(key)
        if carts is not None:
            self.carts[day] = oracle.check_carts([oracle.dumps(c) for c in carts.page(0, carts.total())]).lines
        self.fetch(day, raw, refetch)
        self.settle()



def stored_orders(dsn: str) -> dict[int, tuple[Any, ...]]:
    rows = query(dsn, "SELECT order_id, order_date, user_id, lines, units, gross_revenue, net_revenue FROM dm.fct_orders")
    return {int(r[0]): tuple(r[1:]) for r in rows}


def stored_sales(dsn: str) -> dict[tuple[date, str], tuple[Any, ...]]:
    rows = query(dsn, "SELECT order_date, category, orders, units, gross_revenue, net_revenue, customers FROM dm.fct_sales")
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def stored_customers(dsn: str) -> dict[date, tuple[Any, ...]]:
    rows = query(dsn, "SELECT report_date, orders, customers, new_customers, returning_customers, net_revenue, "
                      "avg_order_value FROM dm.fct_customers_daily")
    return {r[0]: tuple(r[1:]) for r in rows}


def assert_marts(shop: Shop) -> oracle.Marts:
    expected = oracle.marts(shop.carts, shop.products)
    assert stored_orders(shop.pg_dsn) == expected.orders
    assert stored_sales(shop.pg_dsn) == expected.sales
    assert stored_customers(shop.pg_dsn) == expected.customers
    return expected



