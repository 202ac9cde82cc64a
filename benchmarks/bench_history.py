"""The daily increment of change over time against the day's ODS load, as history grows.

    .venv/bin/python benchmarks/bench_history.py                            # 90 days x 100,000 products
    .venv/bin/python benchmarks/bench_history.py --days 20 --products 20000 --at 5,10,20

Loads the simulator's catalog day after day into a throwaway warehouse through the pipeline's own code
(the raw rows, the ODS rules in DuckDB, the ODS loader), and for every day times the ODS load and the
increment — the day's changes (`write_day_changes`) plus the history update (`sync_history`, which takes
the new day in, then VACUUM (ANALYZE) as the asset does). At the days given by --at it prints both and their ratio; the increment must stay
within 2x of the load, whatever the number of days stored. At the end it times a full rebuild of the
history from every stored day, and a late day (the middle one loaded again with other rows), which
rewinds the history to the day before it and takes the later days in again.
PostgreSQL from $ECOM_BENCH_PG_DSN (a superuser DSN; default the local server). Writes JSON to
benchmarks/results/history.json.
"""

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
from psycopg import sql

from ecommerce_assets.dsn import with_database
from ecommerce_assets.transforms.raw_snapshot import RAW_SCHEMA, page_batch, records_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' support code: resources, oracles, services
from ecommerce_catalog_server.daily import DailyCatalog

# The pipeline's modules (they import Dagster) are imported in the functions that use them: --help answers at once.
FIRST_DAY = date(2025, 3, 1)


def ods_rows(catalog: DailyCatalog, day: date) -> pa.Table:
    """The day's catalog through the raw rows and the ODS rules, as the pipeline makes them."""
    from ecommerce_assets_tests.support.rules import clean_products

    records = catalog.page(0, catalog.total())
    raw = pa.Table.from_batches([page_batch(records_table(records), first_index=0, skip=0,
                                            fetched_at=datetime.now(UTC), source_url="bench")], schema=RAW_SCHEMA)
    return clean_products(duckdb.connect(), raw, day).accepted


def run(admin_dsn: str, days: int, products: int, at: list[int]) -> dict[str, Any]:
    from ecommerce_assets.defs.products.history import sync_history, tidy_history, write_day_changes
    from ecommerce_assets.warehouse import WarehouseResource, migrate

    name = f"bench_history_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = with_database(admin_dsn, name)
    results: dict[str, Any] = {"days": days, "products": products, "at": {}}
    try:
        with psycopg.connect(dsn) as conn:
            migrate(conn)
        postgres = WarehouseResource(dsn=dsn)
        for n in range(1, days + 1):
            day = FIRST_DAY + timedelta(days=n - 1)
            rows = ods_rows(DailyCatalog(products, day), day)
            started = time.perf_counter()
            postgres.write_day("ods.fct_products", "snapshot_date", day, rows)
            load = time.perf_counter() - started
            started = time.perf_counter()
            with postgres.connect() as conn:  # the assets' sessions (no JIT)
                changes = write_day_changes(conn, day)
                changes_s = time.perf_counter() - started
                sync = sync_history(conn)
                sync_s = time.perf_counter() - started - changes_s
            with postgres.autocommit() as conn:
                tidy_history(conn)  # as the asset does after an update
            increment = time.perf_counter() - started
            tidy_s = increment - changes_s - sync_s
            assert sync.days == [day] and not sync.rewound
            print(f"day {n:3d}: {rows.num_rows:,} rows, load {load:.2f} s, increment {increment:.2f} s "
                  f"(changes {changes_s:.2f}, history {sync_s:.2f}, tidy {tidy_s:.2f}; "
                  f"{sum(changes.counts.values()):,} changes)", file=sys.stderr, flush=True)
            if n in at:
                with psycopg.connect(dsn) as conn:
                    intervals = conn.execute("SELECT count(*) FROM dm.dim_product_history").fetchone()
                results["at"][n] = {"rows": rows.num_rows, "ods_load_s": round(load, 3),
                                    "increment_s": round(increment, 3), "changes_s": round(changes_s, 3),
                                    "history_s": round(sync_s, 3), "tidy_s": round(tidy_s, 3), "ratio": round(increment / load, 2),
                                    "changes": sum(changes.counts.values()),
                                    "intervals_stored": int(intervals[0]) if intervals else 0}
        with postgres.connect() as conn:
            conn.execute("TRUNCATE dm.product_intervals_current, dm.product_intervals_ended, meta.applied_loads")
            started = time.perf_counter()
            sync = sync_history(conn)
            results["full_rebuild_s"] = round(time.perf_counter() - started, 3)
            assert len(sync.days) == days
        middle = FIRST_DAY + timedelta(days=days // 2)
        rows = ods_rows(DailyCatalog(products, middle, seed=7), middle)  # the middle day again, other rows
        postgres.write_day("ods.fct_products", "snapshot_date", middle, rows)
        with postgres.connect() as conn:
            started = time.perf_counter()
            sync = sync_history(conn)
            results["late_day_s"] = round(time.perf_counter() - started, 3)
            results["late_day_days_retaken"] = len(sync.days)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--at", default="10,45,90", help="days at which to report (comma-separated)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "history.json")
    args = parser.parse_args()
    at = [int(x) for x in args.at.split(",")]
    admin = os.environ.get("ECOM_BENCH_PG_DSN") or "postgresql://postgres@127.0.0.1:5432/postgres"
    results = run(admin, args.days, args.products, at)
    print(f"\n{args.products:,} products, {args.days} days")
    print("| days stored | ODS load (s) | increment: changes + history (s) | increment / load | intervals stored |")
    print("|---|---|---|---|---|")
    for n, row in results["at"].items():
        print(f"| {n} | {row['ods_load_s']:.2f} | {row['increment_s']:.2f} | {row['ratio']:.2f}x "
              f"(floor 2x: {'met' if row['ratio'] <= 2 else 'NOT met'}) | {row['intervals_stored']:,} |")
    print(f"full rebuild of the history from {args.days} days: {results['full_rebuild_s']:.1f} s")
    print(f"a late day (day {args.days // 2 + 1} loaded again with other rows): {results['late_day_s']:.1f} s, "
          f"{results['late_day_days_retaken']} days taken in again")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
