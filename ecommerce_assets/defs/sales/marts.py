"""The sales marts, built in the warehouse with SQL (`sql/postgres/`), each a function of what is stored — so
days may arrive in any order, late, refetched, products before or after carts:

* dm_fct_orders — an order is a cart as first seen: its earliest loaded snapshot, its lines as there. Every
  cart of every snapshot is recorded with a digest of its lines (`meta.cart_sightings`), so taking a day in
  touches that day's carts only; a day arriving late moves the orders it holds to their true first day.
* dm_fct_sales — per order date and category, each line's category its product's on the order date (the
  product history as of that date); derived again for the order dates whose orders changed, and for every
  date from the first product day the history changed on.
* dm_fct_customers_daily — orders, customers, new (first order that day) and returning customers per day.

Each records what it has taken in (`meta.applied_loads`); orders publish the order dates they change as loads
of `dm.fct_orders` (`meta.partition_loads`), which sales and customers take in like any day-partitioned
source. Each sync is one transaction: a failure leaves the previous state."""

from dataclasses import dataclass, field
from datetime import date

import psycopg
from dagster import AssetDep, AssetExecutionContext, MaterializeResult, asset

from ecommerce_assets.automation import after_checked_updates, after_updates
from ecommerce_assets.defs.products import HISTORY, HISTORY_TABLE
from ecommerce_assets.defs.sales.keys import (
    CART_LINES,
    CART_LINES_TABLE,
    CUSTOMERS_DAILY,
    CUSTOMERS_DAILY_TABLE,
    ORDERS,
    ORDERS_TABLE,
    SALES,
    SALES_TABLE,
)
from ecommerce_assets.partitions import WAREHOUSE_POOL
from ecommerce_assets.retries import STEP_RETRY, heals
from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.warehouse import WarehouseResource

SQL = SqlFiles("ecommerce_assets.defs.sales")


def _run(conn: psycopg.Connection, name: str, params: dict[str, object] | None = None) -> psycopg.Cursor:
    return conn.execute(SQL.text(f"postgres/{name}.sql"), params)


@dataclass
class Sync:
    """What one sync took in and what it changed."""

    days: list[date] = field(default_factory=list)  # source days taken in (or out)
    dates: list[date] = field(default_factory=list)  # the dates of this table derived again
    changed: int = 0  # orders derived again (orders)

    def metadata(self) -> dict[str, int | str]:
        return {"days_taken_in": len(self.days), "dates_derived": len(self.dates),
                "first_date": str(self.dates[0]) if self.dates else "none",
                "last_date": str(self.dates[-1]) if self.dates else "none"}


def sync_orders(conn: psycopg.Connection) -> Sync:
    """Bring dm.fct_orders in line with the cart lines stored now; publish the order dates it changed."""
    result = Sync()
    with conn.transaction():
        WarehouseResource.lock(conn, ORDERS_TABLE)
        pending = WarehouseResource.pending_days(conn, ORDERS_TABLE, CART_LINES_TABLE)
        if not pending:
            return result
        _run(conn, "orders/prepare")
        for day, loaded_at in pending:
            _run(conn, "orders/affected_leaving", {"day": day})
            _run(conn, "orders/forget_sightings", {"day": day})
            if loaded_at is not None:
                _run(conn, "orders/record_sightings", {"day": day})
                _run(conn, "orders/affected_arriving", {"day": day})
            WarehouseResource.mark_applied(conn, ORDERS_TABLE, CART_LINES_TABLE, day, loaded_at)
            result.days.append(day)
        _run(conn, "orders/remove_affected")
        _run(conn, "orders/find_firsts")
        for (first,) in _run(conn, "orders/first_days").fetchall():
            _run(conn, "orders/insert_orders", {"day": first})
        result.changed = int(conn.execute("SELECT count(*) FROM affected_carts").fetchone()[0])  # type: ignore[index]
        for day, orders in _run(conn, "orders/changed_dates").fetchall():
            if orders:
                WarehouseResource.record_load(conn, ORDERS_TABLE, day, int(orders), changed=True)
            else:
                WarehouseResource.forget_load(conn, ORDERS_TABLE, day)
            result.dates.append(day)
    return result


def sync_sales(conn: psycopg.Connection) -> Sync:
    """Bring dm.fct_sales in line with the orders and the product history as they are now."""
    result = Sync()
    with conn.transaction():
        WarehouseResource.lock(conn, SALES_TABLE)
        from_orders = WarehouseResource.pending_days(conn, SALES_TABLE, ORDERS_TABLE)
        from_history = WarehouseResource.pending_days(conn, SALES_TABLE, HISTORY_TABLE, of_consumer=True)
        dates = {day for day, _ in from_orders}
        if from_history:  # categories as of every date from the first product day the history changed on
            since = min(day for day, _ in from_history)
            dates |= {row[0] for row in _run(conn, "sales/dates_from", {"day": since}).fetchall()}
        for day in sorted(dates):
            _run(conn, "sales/delete_day", {"day": day})
            _run(conn, "sales/insert_day", {"day": day})
        for source, pending in ((ORDERS_TABLE, from_orders), (HISTORY_TABLE, from_history)):
            for day, loaded_at in pending:
                WarehouseResource.mark_applied(conn, SALES_TABLE, source, day, loaded_at)
        result.days = sorted({day for day, _ in [*from_orders, *from_history]})
        result.dates = sorted(dates)
    return result


def sync_customers(conn: psycopg.Connection) -> Sync:
    """Bring dm.fct_customers_daily in line with the orders as they are now."""
    result = Sync()
    with conn.transaction():
        WarehouseResource.lock(conn, CUSTOMERS_DAILY_TABLE)
        pending = WarehouseResource.pending_days(conn, CUSTOMERS_DAILY_TABLE, ORDERS_TABLE)
        if not pending:
            return result
        _run(conn, "customers/prepare")
        for day, _ in pending:
            _run(conn, "customers/add_date", {"day": day})
        _run(conn, "customers/users_of_dates")
        _run(conn, "customers/refresh_first_orders")
        _run(conn, "customers/rebuild_dates")
        result.dates = [row[0] for row in conn.execute("SELECT day FROM changed_dates ORDER BY day").fetchall()]
        for day, loaded_at in pending:
            WarehouseResource.mark_applied(conn, CUSTOMERS_DAILY_TABLE, ORDERS_TABLE, day, loaded_at)
            result.days.append(day)
    return result


@asset(
    retry_policy=STEP_RETRY,
    key=ORDERS, group_name="dm", deps=[AssetDep(CART_LINES)], kinds={"postgres"},
    automation_condition=after_checked_updates(), pool=WAREHOUSE_POOL,
    description="One row per order — a cart as first seen (order_date: the earliest loaded snapshot holding it; "
                "lines, units and revenue as there). A cart seen later with other contents is counted by a "
                "warning, never twice; a cart that disappears is not a cancellation.",
)
@heals
def dm_fct_orders(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    warehouse.require_current_schema()
    with warehouse.connect() as conn:
        sync = sync_orders(conn)
    context.log.info(f"took in {len(sync.days)} days of carts; {sync.changed} orders derived again, "
                     f"{len(sync.dates)} order dates changed")
    return MaterializeResult(metadata={**sync.metadata(), "orders_derived": sync.changed})


@asset(
    retry_policy=STEP_RETRY,
    key=SALES, group_name="dm", deps=[AssetDep(ORDERS), AssetDep(HISTORY)], kinds={"postgres"},
    automation_condition=after_updates(), pool=WAREHOUSE_POOL,
    description="Per order date and category: orders, units, gross and net revenue, customers. A line's category "
                "is its product's on the order date (dm.dim_product_history); '(unknown)' where the history holds "
                "no interval of it that day.",
)
@heals
def dm_fct_sales(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    warehouse.require_current_schema()
    with warehouse.connect() as conn:
        sync = sync_sales(conn)
    context.log.info(f"derived the sales of {len(sync.dates)} order dates")
    return MaterializeResult(metadata=sync.metadata())


@asset(
    retry_policy=STEP_RETRY,
    key=CUSTOMERS_DAILY, group_name="dm", deps=[AssetDep(ORDERS)], kinds={"postgres"},
    automation_condition=after_updates(), pool=WAREHOUSE_POOL,
    description="Per day: orders, customers, new customers (first order over every loaded day that day), "
                "returning customers (an earlier order), net revenue, average order value.",
)
@heals
def dm_fct_customers_daily(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    warehouse.require_current_schema()
    with warehouse.connect() as conn:
        sync = sync_customers(conn)
    context.log.info(f"derived {len(sync.dates)} report dates")
    return MaterializeResult(metadata=sync.metadata())
