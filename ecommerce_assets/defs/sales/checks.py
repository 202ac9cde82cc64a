"""The sales domain's checks: every line and every user accounted for in the ODS (blocking), the sales and the
customers reconciled with the orders (blocking), and the carts that changed after they were first seen
(warning: counted, never counted twice)."""

from datetime import date

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from ecommerce_assets.checks import Verdict, daily_check, never_loaded
from ecommerce_assets.defs.sales.keys import (
    CART_LINES,
    CART_LINES_TABLE,
    CUSTOMERS,
    CUSTOMERS_DAILY,
    CUSTOMERS_TABLE,
    ORDERS,
    REJECTED_CARTS,
    REJECTED_USERS,
    SALES,
)
from ecommerce_assets.defs.sales.snapshots import CARTS, USERS
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.snapshots import records_and_superseded
from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.warehouse import WarehouseResource

SQL = SqlFiles("ecommerce_assets.defs.sales")
STORES = frozenset({"warehouse", "lake"})


def raw_line_counts(lake: LakeResource, day: date) -> tuple[int, int, int]:
    """(records, lines, superseded lines) of the stored snapshot of carts, counted from the lake alone."""
    raw = lake.dataset(CARTS.location.key(day.isoformat()))
    con = duckdb.connect()
    try:
        con.register("raw_records", raw)
        (records, lines, superseded), = con.execute(SQL.text("duckdb/raw_lines.sql")).fetchall()
        return int(records), int(lines), int(superseded)
    finally:
        con.close()


@daily_check(CART_LINES, "ods_fct_cart_lines__accounts_for_every_line", blocking=True, resource_keys=STORES,
             additional_deps=[REJECTED_CARTS],
             description="Stored cart lines + the lines of the rejected carts + the lines of superseded duplicates = "
                         "every line the raw snapshot lists, and the table holds what its load sent: nothing lost.")
def ods_fct_cart_lines__accounts_for_every_line(context: AssetCheckExecutionContext, day: date) -> Verdict:
    warehouse: WarehouseResource = context.resources.warehouse
    if (missing := never_loaded(warehouse, CART_LINES_TABLE, CART_LINES, day)) is not None:
        return missing
    records, raw_lines, superseded = raw_line_counts(context.resources.lake, day)
    with warehouse.connect() as conn:
        row = conn.execute(SQL.text("postgres/checks/cart_lines_accounting.sql"), {"partition": day}).fetchone()
    stored, rejected_carts, rejected_lines, sent = (int(v or 0) for v in row or (0, 0, 0, 0))
    accounted = stored + rejected_lines + superseded
    passed = accounted == raw_lines and stored == sent
    return Verdict(
        passed,
        {"raw_records": records, "raw_lines": raw_lines, "stored_lines": stored, "rejected_carts": rejected_carts,
         "rejected_lines": rejected_lines, "superseded_lines": superseded, "lines_sent": sent},
        None if passed else (
            f"{day}: the raw snapshot lists {raw_lines} cart lines but {stored} are stored + {rejected_lines} in "
            f"rejected carts + {superseded} superseded = {accounted}; the load sent {sent}"),
    )


@daily_check(CUSTOMERS, "ods_dim_customers__accounts_for_every_user", blocking=True, resource_keys=STORES,
             additional_deps=[REJECTED_USERS],
             description="Stored customers + rejected users + superseded duplicates = the raw snapshot's users.")
def ods_dim_customers__accounts_for_every_user(context: AssetCheckExecutionContext, day: date) -> Verdict:
    warehouse: WarehouseResource = context.resources.warehouse
    if (missing := never_loaded(warehouse, CUSTOMERS_TABLE, CUSTOMERS, day)) is not None:
        return missing
    records, duplicates = records_and_superseded(context.resources.lake, USERS, day)
    with warehouse.connect() as conn:
        row = conn.execute(SQL.text("postgres/checks/customers_accounting.sql"), {"partition": day}).fetchone()
    stored, rejected, sent = (int(v or 0) for v in row or (0, 0, 0))
    passed = stored + rejected + duplicates == records and stored == sent
    return Verdict(passed, {"raw_records": records, "stored": stored, "rejected": rejected, "duplicates": duplicates,
                            "sent": sent},
                   None if passed else f"{day}: {records} raw users but {stored} stored + {rejected} rejected + "
                                       f"{duplicates} superseded; the load sent {sent}")


@asset_check(asset=ORDERS, name="dm_fct_orders__changed_after_first_seen", required_resource_keys={"warehouse"},
             description="Orders whose cart a later snapshot lists with other contents (warning): an order is the cart "
                         "as first seen, counted once.")
def dm_fct_orders__changed_after_first_seen(context: AssetCheckExecutionContext) -> AssetCheckResult:
    with context.resources.warehouse.connect() as conn:
        changed = conn.execute(SQL.text("postgres/orders/changed_after_first_seen.sql")).fetchall()
    shown = [{"order_id": int(order), "first_changed": str(day)} for order, day in changed[:20]]
    return AssetCheckResult(
        passed=not changed, severity=AssetCheckSeverity.WARN,
        metadata={"changed_orders": len(changed), "examples": MetadataValue.json(shown)},
        description=None if not changed else (
            f"{len(changed)} orders' carts were listed later with other contents (first: order {changed[0][0]} on "
            f"{changed[0][1]}); each order keeps its first contents"))


@asset_check(asset=SALES, name="dm_fct_sales__reconciles_with_orders", blocking=True,
             required_resource_keys={"warehouse"},
             description="For every order date, the net revenue summed over categories equals the orders' net "
                         "revenue of that date, to the cent (no line lost or counted twice by the category lookup).")
def dm_fct_sales__reconciles_with_orders(context: AssetCheckExecutionContext) -> AssetCheckResult:
    with context.resources.warehouse.connect() as conn:
        differ = conn.execute(SQL.text("postgres/sales/reconcile.sql")).fetchall()
    shown = [{"order_date": str(d), "orders": str(o), "sales": str(s)} for d, o, s in differ[:20]]
    return AssetCheckResult(
        passed=not differ, metadata={"dates_differing": len(differ), "examples": MetadataValue.json(shown)},
        description=None if not differ else (
            f"{len(differ)} order dates' sales do not add up to their orders (first: {differ[0][0]}: orders "
            f"{differ[0][1]}, sales {differ[0][2]}); materialize dm_fct_sales again"))


@asset_check(asset=CUSTOMERS_DAILY, name="dm_fct_customers_daily__reconciles_with_orders",
             required_resource_keys={"warehouse"},
             description="Every report date's orders, customers and net revenue equal the orders of that date; every "
                         "date with orders has its row.")
def dm_fct_customers_daily__reconciles_with_orders(context: AssetCheckExecutionContext) -> AssetCheckResult:
    with context.resources.warehouse.connect() as conn:
        differ = conn.execute(SQL.text("postgres/customers/reconcile.sql")).fetchall()
    return AssetCheckResult(
        passed=not differ, metadata={"dates_differing": len(differ)},
        description=None if not differ else (
            f"{len(differ)} report dates differ from their orders (first: {differ[0][0]}); materialize "
            "dm_fct_customers_daily again"))


SALES_CHECKS = [ods_fct_cart_lines__accounts_for_every_line, ods_dim_customers__accounts_for_every_user,
                dm_fct_orders__changed_after_first_seen, dm_fct_sales__reconciles_with_orders,
                dm_fct_customers_daily__reconciles_with_orders]
