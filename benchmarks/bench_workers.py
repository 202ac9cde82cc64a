"""A 30-day backfill of ODS, changes and mart from stored raw snapshots on 1, 2 and 3 Celery workers.

    .venv/bin/python benchmarks/bench_workers.py                    # 30 days x 5,000 products
    .venv/bin/python benchmarks/bench_workers.py --products 500 --workers 1,3

Stores the raw snapshots once (the simulator's catalog, day by day), then for each pool size: a fresh
warehouse, that many `dagster-celery` workers (each in a network namespace of its own when run as root,
as the tests do), and the backfill submitted as batched runs (BACKFILL_DAYS_PER_RUN days each, all at
once) with ECOM_EXECUTOR=celery. Prints wall time from submission to the last run's end, steps executed
and steps per second, side by side. PostgreSQL from $ECOM_BENCH_PG_DSN (default the local server),
RabbitMQ and Redis on their default local ports, S3 an rclone server started here.
"""

import argparse
import json
import os
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' worker pool harness

# The pipeline's modules (they import Dagster) are imported in the functions that use them: --help answers at once.
FIRST_DAY = date(2025, 4, 1)


def backfill(admin: str, name: str, workers: int, endpoint: str, bucket: str, days: list[date]) -> dict[str, Any]:
    from backfill_setup import fresh_database  # benchmarks/, next to this script
    from dagster import DagsterEventType, DagsterInstance

    from ecommerce_assets.partitions import BACKFILL_DAYS_PER_RUN
    from ecommerce_assets_tests.support.celery_pool import celery_pool

    dsn = fresh_database(admin, name)
    ranges = [(days[i], days[min(i + BACKFILL_DAYS_PER_RUN, len(days)) - 1])
              for i in range(0, len(days), BACKFILL_DAYS_PER_RUN)]
    with tempfile.TemporaryDirectory() as home, celery_pool(workers, dsn, endpoint, bucket, Path(home)) as pool:
        started = time.perf_counter()
        launches = [pool.run_range(first, last, Path(home) / f"run{i}.log") for i, (first, last) in enumerate(ranges)]
        for i, launch in enumerate(launches):
            if launch.wait(timeout=3600) != 0:
                raise SystemExit((Path(home) / f"run{i}.log").read_text()[-4000:])
        wall = time.perf_counter() - started
        instance: DagsterInstance = pool.instance
        runs = instance.get_runs()
        steps = sum(len(instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_SUCCESS)) for run in runs)
        by_worker = pool.steps_by_worker([run.run_id for run in runs])
        isolated = pool.hosts.isolated
    return {"workers": workers, "wall_seconds": round(wall, 2), "steps": steps, "runs": len(runs),
            "steps_per_second": round(steps / wall, 3), "isolated": isolated,
            "steps_by_worker": {k: len(v) for k, v in by_worker.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "workers.json")
    args = parser.parse_args()
    from backfill_setup import fresh_database, store_raw  # benchmarks/, next to this script

    from ecommerce_assets.lake import LakeResource
    from ecommerce_assets.partitions import BACKFILL_DAYS_PER_RUN

    admin = os.environ.get("ECOM_BENCH_PG_DSN") or "postgresql://postgres@127.0.0.1:5432/postgres"
    days = [FIRST_DAY + timedelta(days=i) for i in range(args.days)]
    name = f"bench_workers_{uuid.uuid4().hex[:8]}"
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder, persistent_s3(Path(folder) / "lake") as lake_server:
        os.environ.update(AWS_ACCESS_KEY_ID=lake_server.access_key_id,
                          AWS_SECRET_ACCESS_KEY=lake_server.secret_access_key, AWS_REGION="us-east-1")
        lake = LakeResource(bucket=f"bench-{uuid.uuid4().hex[:8]}", endpoint_url=lake_server.endpoint_url)
        lake.ensure_bucket()
        try:
            print(f"storing {len(days)} raw snapshots of {args.products:,} products …", file=sys.stderr, flush=True)
            store_raw(lake, fresh_database(admin, name), days, args.products)
            for workers in (int(w) for w in args.workers.split(",")):
                print(f"backfill on {workers} worker(s) …", file=sys.stderr, flush=True)
                results.append(backfill(admin, name, workers, lake_server.endpoint_url, lake.bucket, days))
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    base = results[0]["wall_seconds"]
    print(f"\n{args.days}-day backfill, {args.products:,} products a day, {BACKFILL_DAYS_PER_RUN} days per run, "
          f"workers {'in network namespaces' if results[0]['isolated'] else 'as local processes'}")
    print("| workers | wall time (s) | steps | steps / s | speed-up vs 1 | steps per worker |")
    print("|---|---|---|---|---|---|")
    for row in results:
        print(f"| {row['workers']} | {row['wall_seconds']:.1f} | {row['steps']} | {row['steps_per_second']:.3f} | "
              f"{base / row['wall_seconds']:.2f}x | {row['steps_by_worker']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
