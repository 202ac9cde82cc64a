"""The sales marts at scale: --days simulated days of --carts carts (about 3 lines each) and --users users, with
the product catalog of each day, loaded day after day; for each day, the day's cart-lines ODS load (the cart
rules in DuckDB + the day written to ods.fct_cart_lines) against the day's sales increment (orders + sales +
customers synced in PostgreSQL). The floor: the increment within 2x the ODS load at the last day, and not
growing with the days stored (the last days' increment against the first days').

    .venv/bin/python benchmarks/bench_sales.py                       # 30 days x 100,000 carts, 100,000 users
    .venv/bin/python benchmarks/bench_sales.py --days 5 --carts 5000 --users 5000 --products 2000

Everything goes through the pipeline's own code (the rules, `WarehouseResource.write_day`, the syncs) without
Dagster or HTTP around it; each day's raw rows are made before its timings. PostgreSQL from
$ECOM_BENCH_PG_DSN (default the local server).
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ecommerce_assets.transforms.raw_snapshot import RECORD_SCHEMA, page_batch, raw_schema, records_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' support code: resources, oracles, services
from bench_ods_scale import warehouse  # benchmarks/, next to this script

from ecommerce_catalog_server.daily import EPOCH, DailyCatalog
from ecommerce_catalog_server.shop import CART_DAYS, DailyCarts, DailyUsers

# The pipeline's modules (they import Dagster) are imported in the functions that use them: --help answers at once.
KEY = b"benchmark customer-key secret, 32+ bytes"


def raw(records: list[Any], id_column: str, texts: list[str] | None = None) -> pa.Table:
    rows = records_table(records) if texts is None else pa.table(
        [pa.array([r.get("id") if isinstance(r, dict) else None for r in records], pa.int64()),
         pa.array(texts, pa.large_string())], schema=RECORD_SCHEMA)
    return pa.Table.from_batches([page_batch(rows, first_index=0, skip=0, fetched_at=datetime.now(UTC),
                                             source_url="bench", schema=raw_schema(id_column))])


def day_inputs(args: argparse.Namespace, day: date) -> tuple[pa.Table, pa.Table, pa.Table]:
    """The day's raw carts, reduced users and products, as the raw layer stores them."""
    from ecommerce_assets.defs.sales.transforms.users import reduce_users

    carts = DailyCarts(args.carts, args.products, args.users, day)
    cart_records = carts.page(0, carts.total())
    users = DailyUsers(args.users, day)
    user_rows = reduce_users(records_table(users.page(0, users.total())), KEY)
    user_raw = pa.Table.from_batches([page_batch(user_rows, first_index=0, skip=0, fetched_at=datetime.now(UTC),
                                                 source_url="bench", schema=raw_schema("user_id"))])
    catalog = DailyCatalog(args.products, day)
    return raw(cart_records, "cart_id", [json.dumps(c) for c in cart_records]), user_raw, \
        raw(catalog.page(0, catalog.total()), "product_id")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from ecommerce_assets.defs.products.history import sync_history
    from ecommerce_assets.defs.sales.marts import sync_customers, sync_orders, sync_sales
    from ecommerce_assets.defs.sales.transforms.carts import checked_carts
    from ecommerce_assets.defs.sales.transforms.customers import checked_customers
    from ecommerce_assets_tests.support.rules import clean_products

    admin = os.environ.get("ECOM_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    days = [EPOCH + timedelta(days=i) for i in range(args.days)]
    rows: list[dict[str, Any]] = []
    with warehouse(admin, prefix="bench_sales") as wh:
        for day in days:
            carts_raw, users_raw, products_raw = day_inputs(args, day)
            # the product side (not timed: its own benchmarks measure it)
            wh.write_day("ods.fct_products", "snapshot_date", day, clean_products(duckdb.connect(), products_raw, day).accepted)
            with wh.connect() as conn:
                sync_history(conn)
            customers = checked_customers(duckdb.connect(), users_raw, day)
            wh.write_day("ods.dim_customers", "snapshot_date", day, customers.accepted)
            # timed: the day's cart lines into the ODS (rules + write)
            started = time.perf_counter()
            with checked_carts(duckdb.connect(), carts_raw, day) as checked:
                stats = wh.write_day("ods.fct_cart_lines", "snapshot_date", day, checked.lines)
                wh.write_day("ods.rejected_carts", "snapshot_date", day, checked.rejected)
            ods_seconds = time.perf_counter() - started
            # timed: the sales increment
            timings = {}
            with wh.connect() as conn:
                for name, sync in (("orders", sync_orders), ("sales", sync_sales), ("customers", sync_customers)):
                    started = time.perf_counter()
                    sync(conn)
                    timings[name] = time.perf_counter() - started
            with wh.connect() as conn:
                (orders,), = conn.execute("SELECT count(*) FROM dm.fct_orders").fetchall()
            increment = sum(timings.values())
            rows.append({"day": str(day), "lines": stats.inserted, "orders_stored": int(orders),
                         "ods_seconds": round(ods_seconds, 3), **{f"{k}_seconds": round(v, 3) for k, v in timings.items()},
                         "increment_seconds": round(increment, 3)})
            print(f"day {len(rows):>2} {day}: {stats.inserted:>7,} lines  ODS {ods_seconds:6.2f} s   orders "
                  f"{timings['orders']:5.2f} s  sales {timings['sales']:5.2f} s  customers {timings['customers']:5.2f} s  "
                  f"= increment {increment:5.2f} s  ({int(orders):,} orders stored)", flush=True)
    return {"days": rows, "args": vars(args)}


def floors(result: dict[str, Any]) -> list[str]:
    """The floor table: each verdict can say "not met"."""
    days = result["days"]
    last = days[-1]
    ratio = last["increment_seconds"] / last["ods_seconds"]
    # a cart stays listed up to CART_DAYS days: the snapshots reach their size after that many days; the growth
    # compares the first full-size days with the last ones
    full = days[CART_DAYS:] or days
    k = max(1, min(5, len(full) // 3))
    first = statistics.median(d["increment_seconds"] for d in full[:k])
    latest = statistics.median(d["increment_seconds"] for d in full[-k:])
    growth = latest / first if first else float("inf")
    return [
        "| floor | figure | verdict |",
        "|---|---|---|",
        f"| sales increment within 2x the ODS load at day {len(days)} | {last['increment_seconds']:.2f} s vs "
        f"{last['ods_seconds']:.2f} s = {ratio:.2f}x | {'met' if ratio <= 2 else '**not met**'} |",
        f"| increment not growing with days stored (median of the last {k} days / the first {k} full-size days) | "
        f"{latest:.2f} s / {first:.2f} s = {growth:.2f}x | {'met' if growth <= 1.5 else '**not met**'} |",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--carts", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sales.json"))
    args = parser.parse_args(argv)
    result = run(args)
    print("\n".join(["", *floors(result)]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**result, "args": {k: str(v) for k, v in vars(args).items()}}, indent=2))


if __name__ == "__main__":
    main()
