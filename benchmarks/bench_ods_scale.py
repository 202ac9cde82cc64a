"""Loads that do not grow with history: one more day into an ODS that holds 60 days x 200,000 products,
against the same load into an empty ODS; and a stored day replaced (other rows), against replacing it in an
ODS that holds only that day.

    .venv/bin/python benchmarks/bench_ods_scale.py                         # 60 days x 200,000 products
    .venv/bin/python benchmarks/bench_ods_scale.py --days 10 --products 20000 --reps 2

Every load goes through the pipeline's loader (`WarehouseResource.write_day`: the day's own table COPYed, indexed and
attached; a replaced day compared with the stored one and swapped). The rows are the simulator's catalog
through the raw rows and the ODS rules, made before any timing. Each figure is the median of --reps loads,
the empty-ODS references in fresh databases and measured between the loads into the full one, so the
machine's drift falls on both sides alike. PostgreSQL from $ECOM_BENCH_PG_DSN (default the local server).
"""

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import psycopg
import pyarrow as pa
from psycopg import sql

from ecommerce_assets.dsn import with_database
from ecommerce_assets.transforms.raw_snapshot import RAW_SCHEMA, page_batch, records_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' support code: resources, oracles, services
from ecommerce_catalog_server.daily import DailyCatalog

if TYPE_CHECKING:
    from ecommerce_assets.warehouse import WarehouseResource

# The pipeline's modules (they import Dagster) are imported in the functions that use them: --help answers at once.
FIRST_DAY = date(2025, 3, 1)


def ods_rows(products: int, day: date, seed: int) -> pa.Table:
    """The day's catalog through the raw rows and the ODS rules, as the pipeline makes them."""
    from ecommerce_assets_tests.support.rules import clean_products

    catalog = DailyCatalog(products, day, seed=seed)
    raw = pa.Table.from_batches([page_batch(records_table(catalog.page(0, catalog.total())), first_index=0, skip=0,
                                            fetched_at=datetime.now(UTC), source_url="bench")], schema=RAW_SCHEMA)
    return clean_products(duckdb.connect(), raw, day).accepted


def on_day(rows: pa.Table, day: date) -> pa.Table:
    """The same rows dated `day` (the fill of the stored days: what they hold does not change the cost)."""
    index = rows.schema.get_field_index("snapshot_date")
    return rows.set_column(index, "snapshot_date", pa.array([day] * rows.num_rows, pa.date32()))


@contextmanager
def warehouse(admin: str, prefix: str = "bench_ods") -> Iterator["WarehouseResource"]:
    """A throwaway warehouse database, migrated, dropped afterwards (the sales benchmark's too)."""
    from ecommerce_assets.warehouse import WarehouseResource, migrate

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = with_database(admin, name)
    try:
        with psycopg.connect(dsn) as conn:
            migrate(conn)
        yield WarehouseResource(dsn=dsn)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def load(postgres: "WarehouseResource", rows: pa.Table, day: date, new: bool = True) -> float:
    """Seconds to load `rows` as `day`: a day not stored yet (every row inserted) or one replaced (rows
    written)."""
    dated = on_day(rows, day)
    started = time.perf_counter()
    stats = postgres.write_day("ods.fct_products", "snapshot_date", day, dated)
    seconds = time.perf_counter() - started
    assert stats.inserted == rows.num_rows if new else stats.inserted + stats.updated + stats.deleted > 0, stats
    return seconds


def run(admin: str, days: int, products: int, reps: int) -> dict[str, Any]:
    print(f"making {products:,} ODS rows (two catalogs) …", file=sys.stderr, flush=True)
    base = ods_rows(products, FIRST_DAY, seed=42)
    other = ods_rows(products, FIRST_DAY, seed=7)  # a stored day replaced by other rows
    assert not base.equals(other)
    empty_load: list[float] = []
    empty_replace: list[float] = []
    full_load: list[float] = []
    full_replace: list[float] = []
    with warehouse(admin) as full:
        started = time.perf_counter()
        for n in range(days):
            load(full, base, FIRST_DAY + timedelta(days=n))
        fill = time.perf_counter() - started
        with psycopg.connect(full.dsn) as conn:
            stored = conn.execute("SELECT count(*) FROM ods.fct_products").fetchone()
        print(f"stored {days} days ({stored[0] if stored else 0:,} rows) in {fill:.0f} s", file=sys.stderr, flush=True)
        for rep in range(reps):
            new_day = FIRST_DAY + timedelta(days=days + rep)
            replaced = FIRST_DAY + timedelta(days=(rep + 1) * days // (reps + 1))
            with warehouse(admin) as empty:  # the reference: the same day into an empty ODS, then replaced
                empty_load.append(load(empty, base, new_day, new=True))
                empty_replace.append(load(empty, other, new_day, new=False))
            full_load.append(load(full, base, new_day, new=True))
            full_replace.append(load(full, other, replaced, new=False))
            print(f"rep {rep + 1}: empty load {empty_load[-1]:.2f} s, replace {empty_replace[-1]:.2f} s; with "
                  f"{days + rep} days stored: load {full_load[-1]:.2f} s, replace {full_replace[-1]:.2f} s",
                  file=sys.stderr, flush=True)
        with psycopg.connect(full.dsn) as conn:
            size = conn.execute("SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_inherits i "
                                "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'ods.fct_products'::regclass"
                                ).fetchone()
    median = statistics.median
    return {"days": days, "products": products, "rows_per_day": base.num_rows, "reps": reps,
            "fill_s": round(fill, 1), "ods_size": size[0] if size else "",
            "empty_load_s": round(median(empty_load), 3), "full_load_s": round(median(full_load), 3),
            "empty_replace_s": round(median(empty_replace), 3), "full_replace_s": round(median(full_replace), 3),
            "load_ratio": round(median(full_load) / median(empty_load), 3),
            "replace_ratio": round(median(full_replace) / median(empty_replace), 3),
            "samples": {"empty_load": empty_load, "full_load": full_load, "empty_replace": empty_replace,
                        "full_replace": full_replace}}


def table(r: dict[str, Any]) -> list[str]:
    """The run's figures against the floor (within 1.1x of the empty ODS), as a Markdown table."""
    lines = [f"{r['rows_per_day']:,} ODS rows a day; {r['days']} days stored ({r['ods_size']}); median of {r['reps']}",
             "| load | empty ODS (s) | with the days stored (s) | ratio |", "|---|---|---|---|"]
    for label, empty, full, ratio in (("one more day", r["empty_load_s"], r["full_load_s"], r["load_ratio"]),
                                      ("a stored day replaced (other rows)", r["empty_replace_s"], r["full_replace_s"],
                                       r["replace_ratio"])):
        lines.append(f"| {label} | {empty:.2f} | {full:.2f} | {ratio:.2f}× (floor 1.1×: "
                     f"{'met' if ratio <= 1.1 else '**not met**'}) |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--products", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ods_scale.json")
    args = parser.parse_args()
    admin = os.environ.get("ECOM_BENCH_PG_DSN") or "postgresql://postgres@127.0.0.1:5432/postgres"
    results = run(admin, args.days, args.products, args.reps)
    print("\n" + "\n".join(table(results)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
