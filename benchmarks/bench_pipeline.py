"""One partition end to end at several catalog sizes, and the ODS loader against the references.

    .venv/bin/python benchmarks/bench_pipeline.py                      # 10k, 100k, 1M; 3 repetitions
    .venv/bin/python benchmarks/bench_pipeline.py --sizes 10000 --reps 1

Needs the `bench` extra for dlt (`pip install -e ".[dev,bench]"`; without it dlt is skipped). PostgreSQL
from $ECOM_BENCH_PG_DSN (a superuser DSN; default the local server, else an embedded one); S3 is `rclone serve s3`
over a folder and the catalog the bundled server, each in its own process, pages serialized before timing so
the server's own time is (almost) nil; what it still spends is subtracted from the fetch using the
Server-Timing header. Every measurement runs in a fresh worker process, so peak RSS is that of the work, and
the CPU of each whole materialization is split by process: the pipeline, the S3 server, the catalog server,
and the rest of the machine (PostgreSQL's server processes, and whatever else ran). Prints the machine's speed
(a probe loop), one table and the floors, and writes them as JSON (default benchmarks/results/latest.json).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' support code: resources, oracles, services
PARTITION = "2025-06-01"
PAGE_SIZE = 1000
KEY = ["snapshot_date", "product_id"]
# The machine's speed, measured in the same run as the pipeline: a pure-Python loop in a fresh interpreter. The
# shared 2-core machines the figures come from have run it in 1.3 s (the quickest seen) and up to 6 s, and a run's
# seconds move with it; only the ratios within one run compare across runs.
PROBE = "import time\nt = time.perf_counter()\ns = 0\nfor i in range(30_000_000): s += i\nprint(time.perf_counter() - t)"
QUICKEST_PROBE_SECONDS = 1.3


# ---------------------------------------------------------------- orchestration (parent process)

@contextmanager
def _services(admin_dsn: str | None) -> Iterator[tuple[str, str, int]]:
    """The warehouse's admin DSN, the S3 server's endpoint and its process id."""
    from ecommerce_assets_tests.support.services import postgres_answers
    from ecommerce_local.services import embedded_postgres, persistent_s3

    with ExitStack() as stack:
        dsn = admin_dsn or os.environ.get("ECOM_BENCH_PG_DSN") or "postgresql://postgres@127.0.0.1:5432/postgres"
        if not postgres_answers(dsn):
            dsn = stack.enter_context(embedded_postgres(Path(stack.enter_context(_tempdir())) / "pg"))
        # a real S3 server in its own process (rclone, as the local runner uses), not moto's Python mock,
        # whose own time would count as the pipeline's upload and read-back
        lake = stack.enter_context(persistent_s3(Path(stack.enter_context(_tempdir())) / "lake"))
        os.environ["AWS_ACCESS_KEY_ID"] = lake.access_key_id
        os.environ["AWS_SECRET_ACCESS_KEY"] = lake.secret_access_key
        os.environ.setdefault("AWS_REGION", "us-east-1")
        yield dsn, lake.endpoint_url, lake.pid


@contextmanager
def _tempdir() -> Iterator[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as path:
        yield path


@contextmanager
def _catalog_server(size: int, page_size: int) -> Iterator[tuple[str, int]]:
    from ecommerce_local.services import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ecommerce_catalog_server", "--products", str(size), "--port", str(port),
         "--pregenerate-page-size", str(page_size)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()  # printed once every page is serialized
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU-seconds the machine's cores have run anything since boot (user, nice, system, irq, softirq of
    /proc/stat: not idle, not waiting for I/O, not stolen by the hypervisor)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


def process_cpu_seconds(pid: int) -> float:
    """CPU-seconds of process `pid` and of its children it waited for (utime, stime, cutime, cstime of
    /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    after_name = stat[stat.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    return sum(int(v) for v in after_name[11:15]) / CLOCK_TICKS


class CpuSplit:
    """Where the CPU went while a measured block ran: this process (the pipeline, with any child it waited for),
    each service process, and the rest of the machine — PostgreSQL's server processes, and anything else that ran
    meanwhile (nothing, in a quiet run)."""

    def __init__(self, services: dict[str, int]) -> None:
        self.services = services  # name -> pid

    def _now(self) -> dict[str, float]:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"machine": machine_busy_seconds(),
                "pipeline": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
                **{name: process_cpu_seconds(pid) for name, pid in self.services.items()}}

    @contextmanager
    def measure(self, into: dict[str, float]) -> Iterator[None]:
        """Adds `cpu_<part>_seconds` for each part, and `cpu_all_seconds`, to `into`."""
        before = self._now()
        yield
        after = self._now()
        spent = {name: after[name] - before[name] for name in before}
        named = ["pipeline", *self.services]
        into["cpu_all_seconds"] = spent["machine"]
        into |= {f"cpu_{name}_seconds": spent[name] for name in named}
        into["cpu_postgres_and_rest_seconds"] = max(0.0, spent["machine"] - sum(spent[name] for name in named))


def cpu_line(stages: dict[str, Any], cores: int) -> str:
    """Where the whole materialization's CPU went, and the least time it allows on `cores` cores."""
    if "cpu_all_seconds" not in stages:
        return "CPU of the whole materialization: not measured"
    parts = [("pipeline", "the pipeline"), ("postgres_and_rest", "PostgreSQL and the rest"),
             ("s3_server", "S3 server"), ("catalog_server", "catalog server")]
    split = ", ".join(f"{label} {stages[f'cpu_{key}_seconds']:.1f}" for key, label in parts)
    return (f"CPU-seconds of the whole materialization: {stages['cpu_all_seconds']:.1f} ({split}): on {cores} cores, no "
            f"less than {stages['cpu_all_seconds'] / cores:.1f} s of its {stages['e2e_seconds']:.1f} s")


def probe_seconds() -> float:
    """The machine's speed now: seconds of the probe loop (PROBE) in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=600)
    return float(done.stdout)


def _worker(mode: str, env: dict[str, str], **args: Any) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", mode, "--args", json.dumps(args)]
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"worker {mode} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _measured(admin_dsn: str, env: dict[str, str], mode: str, **args: Any) -> dict[str, Any]:
    """One measurement in a fresh worker, begun with the server's dirty pages written out: a checkpoint the WAL of
    the measurement before would otherwise set off in the middle of this one (ours and dlt's alike)."""
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    return _worker(mode, env, **args)


def orchestrate(sizes: list[int], reps: int, page_size: int, with_dlt: bool, out: Path,
                with_loaders: bool = True, concurrency: int = 3, dlt_e2e_sizes: tuple[int, ...] = (),
                loader_sizes: tuple[int, ...] | None = None,
                dlt_modes: tuple[str, ...] = ("arrow", "rest_api")) -> dict[str, Any]:
    import psycopg
    from psycopg import sql

    from ecommerce_assets.dsn import with_database
    from ecommerce_assets.lake import LakeResource
    from ecommerce_assets.warehouse import migrate

    results: dict[str, Any] = {"sizes": sizes, "reps": reps, "page_size": page_size, "concurrency": concurrency,
                               "stages": {}, "loaders": {}, "probe_seconds": [probe_seconds()],
                               "cores": os.cpu_count() or 1}
    with _services(None) as (admin_dsn, endpoint, s3_server):
        for size in sizes:
            print(f"== {size:,} products: serializing the catalog …", file=sys.stderr, flush=True)
            with _catalog_server(size, page_size) as (api_url, catalog_server):
                services = {"s3_server": s3_server, "catalog_server": catalog_server}
                runs: list[dict[str, Any]] = []
                dlt_runs: dict[str, list[dict[str, Any]]] = {}
                for rep in range(reps):
                    name = f"bench_{uuid.uuid4().hex[:10]}"
                    with psycopg.connect(admin_dsn, autocommit=True) as conn:
                        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                    with psycopg.connect(with_database(admin_dsn, name)) as conn:
                        migrate(conn)  # the set-up step; runs only check the schema
                    bucket = f"bench-{uuid.uuid4().hex[:12]}"
                    LakeResource(bucket=bucket, endpoint_url=endpoint).ensure_bucket()
                    env = {"ECOM_PG_DSN": with_database(admin_dsn, name), "ECOM_S3_ENDPOINT_URL": endpoint,
                           "ECOM_S3_BUCKET": bucket, "ECOM_API_BASE_URL": api_url, "ECOM_API_PAGE_SIZE": str(page_size),
                           "ECOM_API_CONCURRENCY": str(concurrency)}
                    try:
                        print(f"   pipeline rep {rep + 1}/{reps}", file=sys.stderr, flush=True)
                        run = _measured(admin_dsn, env, "pipeline", size=size, services=services)
                        reload = _measured(admin_dsn, env, "pipeline", size=size, refetch=True)
                        run |= {"reload_e2e_seconds": reload["e2e_seconds"], "reload_peak_rss_mib": reload["e2e_peak_rss_mib"]}
                        run |= _measured(admin_dsn, env, "stages", size=size)
                        runs.append(run)
                        if with_dlt and size in dlt_e2e_sizes:  # every repetition, as ours: medians against medians
                            for mode in dlt_modes:
                                print(f"   dlt end to end: {mode}", file=sys.stderr, flush=True)
                                dlt_runs.setdefault(mode, []).append(
                                    _measured(admin_dsn, env, "dlt_e2e", size=size, kind=mode, page_size=page_size))
                        if rep == 0 and with_loaders and (loader_sizes is None or size in loader_sizes):
                            print("   loaders", file=sys.stderr, flush=True)
                            results["loaders"][str(size)] = _measured(admin_dsn, env, "loaders", size=size, reps=reps,
                                                                      with_dlt=with_dlt)
                    finally:
                        with psycopg.connect(admin_dsn, autocommit=True) as conn:
                            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                results["stages"][str(size)] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                for mode, samples in dlt_runs.items():
                    results.setdefault("dlt_e2e", {}).setdefault(str(size), {})[mode] = {
                        "mode": mode, "runs": len(samples),
                        **{k: statistics.median(r[k] for r in samples) for k in samples[0] if k != "mode"}}
    results["probe_seconds"].append(probe_seconds())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


# ---------------------------------------------------------------- workers (fresh processes)

def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _resources() -> dict[str, Any]:
    from ecommerce_assets.environment import resources_from_env
    from ecommerce_assets.warehouse import WarehouseResource

    resources = resources_from_env()
    warehouse = WarehouseResource(dsn=os.environ["ECOM_PG_DSN"])  # the value, not the EnvVar (no Dagster run config here)
    return {**resources, "warehouse": warehouse, "warehouse_io_manager": resources["warehouse_io_manager"].model_copy(
        update={"warehouse": warehouse})}


def worker_pipeline(size: int, refetch: bool = False, services: dict[str, int] | None = None) -> dict[str, Any]:
    """The whole materialization through Dagster (raw -> ODS -> mart), and each step's duration; with
    `refetch`, the same day again (the catalog fetched again, an unchanged ODS day, the mart rebuilt). With
    `services` (name -> pid), where the CPU went meanwhile (CpuSplit)."""
    from dagster import DagsterEventType, DagsterInstance

    from ecommerce_assets.definitions import build_defs

    samples: list[tuple[float, float]] = []  # (wall time, RSS MiB), to attribute the peak to a step
    done = threading.Event()

    def sample() -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not done.is_set():
            with open("/proc/self/statm") as statm:
                samples.append((time.time(), int(statm.read().split()[1]) * page / 2**20))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu: dict[str, float] = {}
    with CpuSplit(services or {}).measure(cpu):
        started = time.perf_counter()
        started_at = time.time()
        instance = DagsterInstance.ephemeral()
        result = build_defs(_resources()).resolve_job_def("ecommerce_daily_job").execute_in_process(
            partition_key=PARTITION, instance=instance,
            run_config={"ops": {"raw_products_parquet": {"config": {"allow_late_fetch": True, "refetch": refetch}}},
                        "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        total = time.perf_counter() - started
    done.set()
    sampler.join()
    steps = {e.step_key: e.event_specific_data.duration_ms / 1000  # type: ignore[union-attr]
             for e in result.all_events if e.event_type == DagsterEventType.STEP_SUCCESS}
    windows = {r.step_key: r.timestamp for r in instance.all_logs(result.run_id, of_type=DagsterEventType.STEP_START)}
    peak_by_step = {}
    for step, start in windows.items():
        end = start + steps.get(step or "", 0.0)
        inside = [rss for t, rss in samples if start <= t <= end + 0.1]
        peak_by_step[f"rss_{step}_mib"] = max(inside, default=0.0)
    return {**cpu, "e2e_seconds": total, "step_raw_seconds": steps.get("raw_products_parquet", 0.0),
            "step_ods_seconds": steps.get("ods_products", 0.0), "step_dm_seconds": steps.get("dm_fct_ecommerce", 0.0),
            "step_changes_seconds": steps.get("dm_fct_product_changes", 0.0),
            "e2e_peak_rss_mib": _peak_rss_mib(), **peak_by_step,
            # every step's start (from the run's beginning) and duration, in the JSON only: where the seconds go
            **{f"timeline_{step}_start": start - started_at for step, start in windows.items()},
            **{f"timeline_{step}_seconds": seconds for step, seconds in steps.items()}}


class _Timed:
    """Wraps an iterator and adds the time spent producing each item to `seconds`."""

    def __init__(self, items: Iterator[Any]) -> None:
        self.items, self.seconds = items, 0.0

    def __iter__(self) -> "_Timed":
        return self

    def __next__(self) -> Any:
        started = time.perf_counter()
        try:
            return next(self.items)
        finally:
            self.seconds += time.perf_counter() - started


def worker_stages(size: int) -> dict[str, Any]:
    """Each stage on its own, outside Dagster: fetch (client side), Parquet write, upload, ODS transform and
    load, mart."""
    import tempfile

    import duckdb
    import pyarrow.parquet as pq

    from ecommerce_assets.defs.products.transforms.mart import MART_INPUT_COLUMNS, build_mart
    from ecommerce_assets.environment import catalog_api_from_env, lake_from_env
    from ecommerce_assets.lake.objects import ROW_GROUP_BYTES, ROW_GROUP_ROWS, row_groups
    from ecommerce_assets.transforms.raw_snapshot import RAW_SCHEMA, page_batch, page_parser
    from ecommerce_assets.warehouse import WarehouseResource, migrate
    from ecommerce_assets_tests.support.rules import clean_products

    client = catalog_api_from_env().client()
    server_seconds = 0.0
    records = 0

    def batches() -> Iterator[Any]:
        nonlocal server_seconds, records
        for page in client.iter_pages("products", new_parser=lambda: page_parser(duckdb.connect())):
            server_seconds += page.server_seconds
            yield page_batch(page.records, first_index=records, skip=page.skip, fetched_at=page.fetched_at,
                             source_url=page.url)
            records += page.count

    timed = _Timed(batches())
    spool = tempfile.mkstemp(suffix=".parquet")[1]
    write_seconds = 0.0
    with pq.ParquetWriter(spool, RAW_SCHEMA, compression="zstd") as writer:
        for group in row_groups(timed, ROW_GROUP_ROWS, ROW_GROUP_BYTES):  # as the lake groups pages
            started = time.perf_counter()
            writer.write_table(group, row_group_size=group.num_rows)
            write_seconds += time.perf_counter() - started
    started = time.perf_counter()
    lake = lake_from_env()
    key = f"bench/{PARTITION}/products.parquet"
    lake.get_client().upload_file(spool, lake.bucket, key)
    upload_seconds = time.perf_counter() - started
    os.unlink(spool)

    started = time.perf_counter()
    raw = lake.dataset(key)
    download_seconds = time.perf_counter() - started
    started = time.perf_counter()
    cleaned = clean_products(duckdb.connect(), raw, date.fromisoformat(PARTITION))
    transform_seconds = time.perf_counter() - started
    postgres = WarehouseResource(dsn=os.environ["ECOM_PG_DSN"])
    with postgres.connect() as conn:
        migrate(conn)
        # a first load: the partition is empty (an earlier measurement may have loaded it)
        conn.execute("DROP TABLE IF EXISTS ods.fct_products_p" + PARTITION.replace("-", ""))
        conn.execute("DELETE FROM meta.partition_loads WHERE partition_date = %s", (PARTITION,))
    started = time.perf_counter()
    postgres.write_day("ods.fct_products", "snapshot_date", date.fromisoformat(PARTITION), cleaned.accepted)
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    postgres.write_day("ods.fct_products", "snapshot_date", date.fromisoformat(PARTITION), cleaned.accepted)
    reload_seconds = time.perf_counter() - started

    started = time.perf_counter()
    with postgres.read_day("ods.fct_products", "snapshot_date", date.fromisoformat(PARTITION),
                           list(MART_INPUT_COLUMNS)) as reader:
        ods = reader.read_all()
    mart_read = time.perf_counter() - started
    started = time.perf_counter()
    mart = build_mart(duckdb.connect(), ods, date.fromisoformat(PARTITION))
    mart_compute = time.perf_counter() - started
    started = time.perf_counter()
    postgres.write_day("dm.fct_ecommerce", "report_date", date.fromisoformat(PARTITION), mart)
    mart_write = time.perf_counter() - started
    assert records == size, (records, size)
    return {
        "fetch_seconds": timed.seconds - server_seconds, "fetch_server_seconds": server_seconds,
        "raw_write_seconds": write_seconds + upload_seconds, "raw_upload_seconds": upload_seconds,
        "ods_download_seconds": download_seconds, "ods_transform_seconds": transform_seconds,
        "ods_load_seconds": load_seconds, "ods_reload_seconds": reload_seconds, "ods_rows": cleaned.accepted.num_rows,
        "mart_seconds": mart_read + mart_compute + mart_write, "mart_read_seconds": mart_read,
        "mart_compute_seconds": mart_compute, "mart_write_seconds": mart_write,
        "stages_peak_rss_mib": _peak_rss_mib(),
    }


def worker_dlt_e2e(size: int, kind: str, page_size: int) -> dict[str, Any]:
    """What a user would pick instead, end to end on the same catalog into PostgreSQL, merging on
    (snapshot_date, id): dlt's `rest_api` source as documented (kind `rest_api`), or dlt's fastest path, a
    resource that parses each page with pyarrow and loads Parquet files through ADBC (kind `arrow`). First
    load, then the same catalog again. No raw snapshot, no quarantine, no mart."""
    import io
    import tempfile

    import dlt
    import pyarrow as pa
    import pyarrow.json as pajson
    import requests

    api = os.environ["ECOM_API_BASE_URL"]
    dsn = _dlt_dsn(os.environ["ECOM_PG_DSN"])
    flat = ["id", "title", "description", "category", "price", "discountPercentage", "rating", "stock", "brand",
            "sku", "weight", "availabilityStatus", "minimumOrderQuantity"]

    def with_day(record: dict[str, Any]) -> dict[str, Any]:
        record["snapshot_date"] = PARTITION
        return record

    def source() -> Any:
        if kind == "rest_api":
            from dlt.sources.rest_api import rest_api_source

            return rest_api_source({
                "client": {"base_url": api, "paginator": {"type": "offset", "limit": page_size, "offset_param": "skip",
                                                          "limit_param": "limit", "total_path": "total"}},
                "resources": [{"name": "products", "endpoint": {"path": "products", "data_selector": "products"},
                               "primary_key": ["snapshot_date", "id"], "write_disposition": "merge",
                               "processing_steps": [{"map": with_day}]}],
            })

        @dlt.resource(name="products", primary_key=["snapshot_date", "id"], write_disposition="merge")
        def products() -> Any:
            session = requests.Session()
            skip, total = 0, None
            while total is None or skip < total:
                body = session.get(f"{api}/products", params={"limit": page_size, "skip": skip}, timeout=60).content
                page = pajson.read_json(io.BytesIO(body))
                total = page.column("total")[0].as_py()
                records = pa.Table.from_struct_array(page.column("products").combine_chunks().values)
                table = records.select([c for c in flat if c in records.column_names])
                yield table.append_column("snapshot_date", pa.array([date.fromisoformat(PARTITION)] * table.num_rows))
                skip += table.num_rows
        return products()

    out: dict[str, Any] = {"mode": kind}
    with tempfile.TemporaryDirectory() as workdir:
        for phase in ("first", "reload"):
            pipeline = dlt.pipeline(pipeline_name=f"bench_e2e_{kind}", pipelines_dir=workdir,
                                    destination=dlt.destinations.postgres(credentials=dsn),
                                    dataset_name=f"bench_e2e_{kind}")
            started = time.perf_counter()
            if kind == "rest_api":
                pipeline.run(source())
            else:
                pipeline.run(source(), loader_file_format="parquet")
            out[f"{phase}_seconds"] = time.perf_counter() - started
    out["peak_rss_mib"] = _peak_rss_mib()
    return out


def _dlt_dsn(dsn: str) -> str:
    """dlt insists on a password; trust-auth servers ignore the one it is given."""
    parts = urlsplit(dsn)
    if parts.password or "@" not in parts.netloc:
        return dsn
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit((parts.scheme, f"{user.split(':')[0]}:unused@{host}", parts.path, parts.query, parts.fragment))



def copy_csv(conn: Any, table: Any, rows: Any) -> None:
    """The plain-COPY reference: an Arrow table COPYed into `table` as CSV written by Arrow (nulls unquoted,
    empty strings quoted); a writer thread sends one batch while Arrow formats the next."""
    import io

    import pyarrow.csv as pacsv
    from psycopg import sql
    from psycopg.copy import QueuedLibpqWriter

    statement = sql.SQL((Path(__file__).parent / "copy_into.sql").read_text()).format(
        table=table, columns=sql.SQL(", ").join(sql.Identifier(n) for n in rows.column_names))
    options = pacsv.WriteOptions(include_header=False, batch_size=65_536)
    with conn.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        for batch in rows.to_batches(max_chunksize=65_536):
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, options)
            copy.write(buffer.getbuffer())

def worker_loaders(size: int, reps: int, with_dlt: bool) -> dict[str, Any]:
    """Ours, naive executemany upsert, dlt merge and plain COPY on the same ODS rows and table shape."""
    import tempfile

    import duckdb
    import psycopg
    from psycopg import sql

    from ecommerce_assets.defs.products.transforms.rules import ODS_COLUMNS
    from ecommerce_assets.environment import lake_from_env
    from ecommerce_assets.warehouse import WarehouseResource
    from ecommerce_assets_tests.support.rules import clean_products

    dsn = os.environ["ECOM_PG_DSN"]
    rows = clean_products(duckdb.connect(), lake_from_env().dataset(f"raw/products/snapshot_date={PARTITION}/products.parquet"),
                          date.fromisoformat(PARTITION)).accepted
    n = rows.num_rows
    day = date.fromisoformat(PARTITION)

    day_table = "ods.fct_products_p" + PARTITION.replace("-", "")

    def reset(statement: str = "EMPTY") -> None:
        """An empty day: no partition for ours (a first load builds it), an empty keyed partition for the
        references that insert into the table."""
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {day_table}")
            conn.execute("DELETE FROM meta.partition_loads")
            if statement == "KEYED":
                conn.execute(f"CREATE TABLE {day_table} PARTITION OF ods.fct_products FOR VALUES IN ('{PARTITION}')")
            elif statement != "EMPTY":
                conn.execute(statement)

    def timed(fn: Callable[[], None]) -> float:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started

    def day_writes() -> tuple[int, int]:
        """The day's partition: which table it is, and the row versions written to it (inserted, updated,
        deleted)."""
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_force_next_flush()")
            row = conn.execute("SELECT relid::bigint, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables "
                               "WHERE schemaname = 'ods' AND relname = %s", (day_table.split(".")[1],)).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def rows_written(before: tuple[int, int], after: tuple[int, int]) -> int:
        """Row versions a reload wrote: the same table's count grew by them, or the day is a new table (all
        its rows written)."""
        return after[1] - before[1] if after[0] == before[0] else n

    postgres = WarehouseResource(dsn=dsn)

    def ours() -> None:
        postgres.write_day("ods.fct_products", "snapshot_date", day, rows)

    cols = list(ODS_COLUMNS)
    python_rows = [tuple(r[c] for c in cols) for r in rows.to_pylist()] if n <= 2_000_000 else []
    naive_sql = (f"INSERT INTO ods.fct_products ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
                 f"ON CONFLICT (snapshot_date, product_id) DO UPDATE SET "
                 + ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in KEY) + ", loaded_at = now()")

    def naive() -> None:
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            cur.executemany(naive_sql, python_rows)

    def plain_copy() -> None:
        with psycopg.connect(dsn) as conn:
            copy_csv(conn, sql.Identifier("ods", "fct_products"), rows)

    out: dict[str, Any] = {"rows": n}

    def measure(name: str, load: Callable[[], None], reset_sql: str = "EMPTY",
                reload: bool = True, on_reset: Callable[[], None] = lambda: None) -> None:
        firsts, reloads, updates = [], [], []
        for _ in range(reps):
            reset(reset_sql)
            on_reset()
            firsts.append(timed(load))
            if reload:
                before = day_writes()
                reloads.append(timed(load))
                updates.append(rows_written(before, day_writes()))
        out[name] = {"first_seconds": statistics.median(firsts)}
        if reload:
            out[name] |= {"reload_seconds": statistics.median(reloads), "reload_row_updates": max(updates)}

    measure("ours", ours)
    measure("naive", naive, reset_sql="KEYED")
    measure("copy", plain_copy, reset_sql="KEYED", reload=False)
    if with_dlt:
        try:
            import dlt  # noqa: F401
        except ImportError:
            out["dlt"] = {"skipped": "dlt not installed (pip install -e '.[bench]')"}
        else:
            workdir = [tempfile.mkdtemp()]

            def dlt_load() -> None:
                import dlt as dlt_mod

                pipeline = dlt_mod.pipeline(pipeline_name="bench_dlt", pipelines_dir=workdir[0],
                                            destination=dlt_mod.destinations.postgres(credentials=_dlt_dsn(dsn)),
                                            dataset_name="bench_dlt")
                pipeline.run(rows, table_name="fct_products", write_disposition="merge", primary_key=KEY)

            def new_state() -> None:
                workdir[0] = tempfile.mkdtemp()  # a first load starts without dlt's local pipeline state

            measure("dlt", dlt_load, reset_sql="DROP SCHEMA IF EXISTS bench_dlt CASCADE", on_reset=new_state)
    return out


# ---------------------------------------------------------------- report

def report(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    sizes = [str(s) for s in results["sizes"]]
    header = f"{'stage / method':<34}" + "".join(f"{int(s):>22,}" for s in sizes)
    lines += [machine_speed(results.get("probe_seconds", [])),
              f"seconds (rows/s) — median of {results['reps']}", header, "-" * len(header)]

    def row(label: str, values: list[str]) -> None:
        lines.append(f"{label:<34}" + "".join(f"{v:>22}" for v in values))

    def cell(seconds: float | None, n: int | None) -> str:
        if seconds is None:
            return "—"
        return f"{seconds:.2f} ({n / seconds:,.0f}/s)" if n else f"{seconds:.3f}"

    stages = results["stages"]
    for key, label in (("fetch_seconds", "fetch (client side)"), ("fetch_server_seconds", "  server's own time"),
                       ("raw_write_seconds", "raw Parquet write + upload"),
                       ("ods_download_seconds", "ODS read-back of the raw file"),
                       ("ods_transform_seconds", "ODS transform (DuckDB)"),
                       ("ods_load_seconds", "ODS load, first (ours)"),
                       ("ods_reload_seconds", "ODS load, unchanged reload (ours)"),
                       ("mart_seconds", "mart (read+compute+write)"),
                       ("mart_compute_seconds", "  mart compute (DuckDB)"), ("e2e_seconds", "whole materialization")):
        row(label, [cell(stages[s].get(key), int(s) if key not in ("mart_compute_seconds", "fetch_server_seconds") else None)
                    for s in sizes])
    row("whole materialization, same day again", [cell(stages[s].get("reload_e2e_seconds"), int(s)) for s in sizes])
    row("peak RSS, materialization (MiB)", [f"{stages[s]['e2e_peak_rss_mib']:,.0f}" for s in sizes])
    for step in ("raw_products_parquet", "ods_products", "dm_fct_ecommerce"):  # the steps (ods_products: ODS + rejected)
        row(f"  during {step} (MiB)", [f"{stages[s][f'rss_{step}_mib']:,.0f}" if f"rss_{step}_mib" in stages[s]
                                       else "not measured" for s in sizes])
    lines += [f"{int(s):,} products — {cpu_line(stages[s], results.get('cores', 0))}" for s in sizes]
    lines.append("")
    lines += floors(results)
    lines.append("")
    loaders = results["loaders"]
    if not loaders:
        return lines
    for method in ("ours", "naive", "dlt", "copy"):
        for phase in ("first", "reload"):
            values = []
            for s in sizes:
                entry = loaders.get(s, {}).get(method, {})
                seconds = entry.get(f"{phase}_seconds")
                values.append(cell(seconds, loaders[s]["rows"]) if seconds else "—")
            if any(v != "—" for v in values):
                row(f"ODS load {method}, {phase}", values)
    lines.append("")
    for other in ("naive", "dlt", "copy"):
        for phase in ("first", "reload"):
            values = []
            for s in sizes:
                ours = loaders.get(s, {}).get("ours", {}).get(f"{phase}_seconds")
                theirs = loaders.get(s, {}).get(other, {}).get(f"{phase}_seconds" if other != "copy" else "first_seconds")
                values.append(f"{theirs / ours:.2f}x" if ours and theirs else "—")
            row(f"speed ours/{other}, {phase}", values)
    values = [str(loaders.get(s, {}).get("ours", {}).get("reload_row_updates", "—")) for s in sizes]
    row("rows rewritten by an unchanged reload", values)
    return lines


def machine_speed(probes: list[float]) -> str:
    """The machine's speed during the run, from the probe loop timed before and after it."""
    if not probes:
        return "machine speed: not measured"
    return (f"machine speed: the probe loop took {' s, then '.join(f'{p:.2f}' for p in probes)} s (before and after the "
            f"run; {QUICKEST_PROBE_SECONDS} s on the quickest machine seen: {max(probes) / QUICKEST_PROBE_SECONDS:.1f}× "
            "slower at worst)")


def _runs(measured: dict[str, Any]) -> str:
    """How many runs a median of dlt's was taken from ("" in a JSON from before dlt was run at every repetition)."""
    return f"median of {measured['runs']}, " if "runs" in measured else ""


def floors(results: dict[str, Any]) -> list[str]:
    """Each floor of the performance issue with its figure from this run (— when this run did not measure it)."""
    stages, loaders, e2e = results["stages"], results.get("loaders", {}), results.get("dlt_e2e", {})
    lines = ["| floor | figure | |", "|---|---|---|"]

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("met" if ok else "**not met**")

    one = stages.get("1000000", {})
    whole = one.get("e2e_seconds")
    lines.append(f"| 1M end to end ≤ 15 s | {whole:.1f} s |" if whole else "| 1M end to end ≤ 15 s | — |")
    lines[-1] += f" {verdict(whole <= 15 if whole else None)} |"
    rss = {s: stages[s]["e2e_peak_rss_mib"] for s in ("250000", "1000000", "5000000") if s in stages}
    if "250000" in rss and "1000000" in rss:  # a floor over two sizes says nothing when one was not measured
        ratio = rss["1000000"] / rss["250000"]
        lines.append(f"| peak RSS 1M ≤ 1.25× 250k | {rss['1000000']:,.0f} / {rss['250000']:,.0f} MiB = {ratio:.2f}× | "
                     f"{verdict(ratio <= 1.25)} |")
    else:
        text = ", ".join(f"{int(s):,}: {v:,.0f} MiB" for s, v in rss.items() if s != "5000000") or "—"
        lines.append(f"| peak RSS 1M ≤ 1.25× 250k | {text} | not measured |")
    five = rss.get("5000000")
    lines.append(f"| peak RSS 5M ≤ 1 GiB | {five:,.0f} MiB | {verdict(five <= 1024)} |" if five is not None
                 else "| peak RSS 5M ≤ 1 GiB | — | not measured |")
    for size, entry in loaders.items():
        ours, copy = entry.get("ours", {}), entry.get("copy", {})
        if ours and copy:
            ratio = copy["first_seconds"] / ours["first_seconds"]
            lines.append(f"| ODS first load ≥ 0.85× plain COPY ({int(size):,}) | {ratio:.2f}× | {verdict(ratio >= 0.85)} |")
            lines.append(f"| unchanged reload no slower than first, writing no row ({int(size):,}) | "
                         f"{ours['reload_seconds']:.2f} s vs {ours['first_seconds']:.2f} s, "
                         f"{ours['reload_row_updates']} rows written | "
                         f"{verdict(ours['reload_seconds'] <= ours['first_seconds'] and ours['reload_row_updates'] == 0)} |")
    for size, modes in e2e.items():
        ours_first, ours_reload = stages[size]["e2e_seconds"], stages[size].get("reload_e2e_seconds")
        if "rest_api" in modes:
            first = modes["rest_api"]["first_seconds"] / ours_first
            again = modes["rest_api"]["reload_seconds"] / ours_reload if ours_reload else None
            lines.append(f"| ≥ 5× dlt rest_api ({int(size):,}) | first {first:.1f}×, reload "
                         f"{again:.1f}× ({modes['rest_api']['first_seconds']:.0f} / {modes['rest_api']['reload_seconds']:.0f} s) | "
                         f"{verdict(first >= 5 and (again or 0) >= 5)} |")
        if "arrow" in modes:
            first = modes["arrow"]["first_seconds"] / ours_first
            again = modes["arrow"]["reload_seconds"] / ours_reload if ours_reload else None
            lines.append(f"| ≥ 1.25× dlt's Arrow path ({int(size):,}) | first {first:.2f}×, reload {again:.2f}× "
                         f"({modes['arrow']['first_seconds']:.1f} / {modes['arrow']['reload_seconds']:.1f} s, "
                         f"{_runs(modes['arrow'])}RSS {modes['arrow']['peak_rss_mib']:,.0f} MiB) | "
                         f"{verdict(first >= 1.25 and (again or 0) >= 1.25)} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    parser.add_argument("--no-dlt", action="store_true")
    parser.add_argument("--concurrency", type=int, default=3, help="ECOM_API_CONCURRENCY of the fetch")
    parser.add_argument("--dlt-e2e-sizes", default="1000000",
                        help="sizes at which dlt's rest_api source and its Arrow path run end to end (comma-separated; "
                             "empty: none)")
    parser.add_argument("--dlt-modes", default="arrow,rest_api",
                        help="which of dlt's paths run end to end: arrow (its fastest), rest_api (as documented)")
    parser.add_argument("--no-loaders", action="store_true", help="stages and materialization only")
    parser.add_argument("--loader-sizes", default="10000,100000,1000000",
                        help="sizes at which the ODS loader is compared with naive upsert, dlt and COPY")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "latest.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        workers: dict[str, Callable[..., dict[str, Any]]] = {
            "pipeline": worker_pipeline, "stages": worker_stages, "loaders": worker_loaders, "dlt_e2e": worker_dlt_e2e}
        worker = workers[args.worker]
        print(json.dumps(worker(**json.loads(args.args))))
        return
    results = orchestrate([int(s) for s in args.sizes.split(",")], args.reps, args.page_size, not args.no_dlt, args.out,
                          with_loaders=not args.no_loaders, concurrency=args.concurrency,
                          dlt_e2e_sizes=tuple(int(s) for s in args.dlt_e2e_sizes.split(",") if s),
                          dlt_modes=tuple(m for m in args.dlt_modes.split(",") if m),
                          loader_sizes=tuple(int(s) for s in args.loader_sizes.split(",") if s))
    print("\n".join(report(results)))
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
