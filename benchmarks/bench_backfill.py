"""A 90-day backfill of ODS, changes and mart from stored raw snapshots: batched runs (BackfillPolicy, the
warehouse assets taking BACKFILL_DAYS_PER_RUN days per run) against one run per partition.

    .venv/bin/python benchmarks/bench_backfill.py                      # 90 days x 2,000 products
    .venv/bin/python benchmarks/bench_backfill.py --days 20 --products 500

Every run is a `dagster job execute` process of warehouse_job, as the daemon's run launcher starts one
process per run: its start, the code location's import and Dagster's per-run work are what batching
saves. Both ways start from an empty warehouse over the same stored raw snapshots and end with the same
rows (checked). PostgreSQL from $ECOM_BENCH_PG_DSN (default the local server), S3 an rclone server.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ecommerce_local.services import persistent_s3

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The pipeline's modules (they import Dagster) are imported in the functions that use them: --help answers at once.
FIRST_DAY = date(2025, 1, 1)
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def run(env: dict[str, str], tags: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run([str(BIN / "dagster"), "job", "execute", "-m", "ecommerce_assets.definitions", "-j",
                               "warehouse_job", "--tags", json.dumps(tags)], cwd=ROOT, env=env, stdout=out,
                              stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        raise SystemExit(f"run {tags} failed:\n{log.read_text()[-4000:]}")


def backfill(admin: str, name: str, env: dict[str, str], days: list[date], batched: bool, folder: Path) -> dict[str, Any]:
    from backfill_setup import fresh_database  # benchmarks/, next to this script

    from ecommerce_assets.partitions import BACKFILL_DAYS_PER_RUN

    dsn = fresh_database(admin, name)
    home = folder / ("batched" if batched else "per_partition")
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    run_env = {**env, "ECOM_PG_DSN": dsn, "DAGSTER_PG_URL": dsn, "DAGSTER_HOME": str(home)}
    size = BACKFILL_DAYS_PER_RUN if batched else 1
    started = time.perf_counter()
    runs = 0
    for i in range(0, len(days), size):
        chunk = days[i:i + size]
        tags = {RANGE_START: str(chunk[0]), RANGE_END: str(chunk[-1])} if batched else {"dagster/partition": str(chunk[0])}
        run(run_env, tags, home / "runs.log")
        runs += 1
    seconds = time.perf_counter() - started
    with psycopg.connect(dsn) as conn:
        fingerprint = conn.execute(
            "SELECT count(*), sum(product_count), sum(total_stock), sum(price_changes) FROM dm.fct_ecommerce"
        ).fetchone()
        ods_rows = conn.execute("SELECT count(*) FROM ods.fct_products").fetchone()
    return {"runs": runs, "seconds": round(seconds, 2), "mart": [str(v) for v in fingerprint or ()],
            "ods_rows": int(ods_rows[0]) if ods_rows else 0}


def table(days: int, products: int, single: dict[str, Any], batched: dict[str, Any]) -> list[str]:
    """Both ways side by side and the ratio against the floor (batched at least 5x faster)."""
    from ecommerce_assets.partitions import BACKFILL_DAYS_PER_RUN

    ratio = single["seconds"] / batched["seconds"]
    lines = [f"{days}-day backfill of ODS, changes and mart from stored raw, {products:,} products a day",
             "| how | runs | seconds | per day |", "|---|---|---|---|"]
    for label, row in (("one run per partition", single), (f"batched, {BACKFILL_DAYS_PER_RUN} days per run", batched)):
        lines.append(f"| {label} | {row['runs']} | {row['seconds']:.1f} | {row['seconds'] / days:.2f} s |")
    lines.append(f"batched / per partition: {ratio:.2f}× faster (floor 5×: {'met' if ratio >= 5 else '**not met**'}); "
                 f"same rows: {batched['ods_rows']:,} ODS rows, mart {batched['mart']}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "backfill.json")
    args = parser.parse_args()
    from backfill_setup import fresh_database, store_raw  # benchmarks/, next to this script

    from ecommerce_assets.lake import LakeResource

    admin = os.environ.get("ECOM_BENCH_PG_DSN") or "postgresql://postgres@127.0.0.1:5432/postgres"
    days = [FIRST_DAY + timedelta(days=i) for i in range(args.days)]
    name = f"bench_backfill_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder, persistent_s3(Path(folder) / "lake") as served:
        os.environ.update(AWS_ACCESS_KEY_ID=served.access_key_id, AWS_SECRET_ACCESS_KEY=served.secret_access_key,
                          AWS_REGION="us-east-1")
        lake = LakeResource(bucket=f"bench-{uuid.uuid4().hex[:8]}", endpoint_url=served.endpoint_url)
        lake.ensure_bucket()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("ECOM_", "DAGSTER_"))},
               "ECOM_S3_ENDPOINT_URL": served.endpoint_url, "ECOM_S3_BUCKET": lake.bucket,
               "PYTHONWARNINGS": "ignore"}
        try:
            print(f"storing {len(days)} raw snapshots of {args.products:,} products …", file=sys.stderr, flush=True)
            store_raw(lake, fresh_database(admin, name), days, args.products)
            print("one run per partition …", file=sys.stderr, flush=True)
            single = backfill(admin, name, env, days, batched=False, folder=Path(folder))
            print("batched runs …", file=sys.stderr, flush=True)
            batched = backfill(admin, name, env, days, batched=True, folder=Path(folder))
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    assert single["mart"] == batched["mart"] and single["ods_rows"] == batched["ods_rows"], (single, batched)
    ratio = single["seconds"] / batched["seconds"]
    print("\n" + "\n".join(table(args.days, args.products, single, batched)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"days": args.days, "products": args.products, "per_partition": single,
                                    "batched": batched, "ratio": round(ratio, 2)}, indent=2))


if __name__ == "__main__":
    main()
