"""`python -m ecommerce_local run|dev|exec` (what ./scripts/run.sh runs): materialize a day end to end, open
the Dagster UI, or run a command, on this machine alone.

Services the environment does not configure are started embedded, their data kept in the state folder
(`.local/`): PostgreSQL (pgserver, `.local/pgdata`) when ECOM_PG_DSN is unset, an S3 server over a folder
(rclone, `.local/lake`) when ECOM_S3_ENDPOINT_URL is unset, and with --offline the bundled catalog server
instead of the public API. Dagster's run history goes to a database of its own (DAGSTER_PG_URL, else the
database `<warehouse>_dagster` beside the warehouse's). Configuration problems are reported before a run starts.
"""

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ecommerce_assets.deploy.init_warehouse import ensure_database
from ecommerce_assets.diagnosis import SetupProblem
from ecommerce_assets.dsn import with_database
from ecommerce_assets.io_managers.s3_parquet import stored_object_exists
from ecommerce_assets.lake_keys import RAW_PRODUCTS_LOCATION
from ecommerce_assets.migrations import migrate, missing_migrations
from ecommerce_assets.partitions import PARTITIONS_START
from ecommerce_assets.product_history import CHANGE_TYPES, day_change_counts, previous_snapshot
from ecommerce_assets.resources.from_env import catalog_api_from_env, lake_from_env
from ecommerce_assets.sql import load_sql
from ecommerce_catalog_server import Catalog, CatalogServer, GeneratedCatalog
from ecommerce_catalog_server.daily import DailyCatalog
from ecommerce_local import preflight, report
from ecommerce_local.queries import load_query
from ecommerce_local.services import embedded_postgres, persistent_s3

REPO_ROOT = Path(__file__).resolve().parents[1]
WAREHOUSE_DATABASE = "warehouse"


def dagster_database(warehouse_dsn: str) -> str:
    """Where Dagster's run history goes when DAGSTER_PG_URL is unset: `<warehouse database>_dagster` on the
    same server — never the warehouse itself, and one per warehouse."""
    database = conninfo_to_dict(warehouse_dsn).get("dbname") or WAREHOUSE_DATABASE
    return f"{database}_dagster"
JOB = "ecommerce_daily_job"
ASSETS = ("raw_products_parquet", "ods_fct_products", "dm_fct_product_changes", "dm_fct_ecommerce")
HISTORY_JOB, HISTORY_ASSET = "product_history_job", "dm_dim_product_history"


@dataclass(frozen=True)
class Options:
    command: str
    offline: bool
    partition: date | None
    products: int
    awkward: bool
    port: int
    state_dir: Path
    verbose: bool
    run_config: dict[str, Any]
    rerun: str
    exec_command: list[str]
    days: int = 1

    def partitions(self) -> list[date]:
        """The days to materialize, oldest first: --days of them ending with --date."""
        assert self.partition is not None
        return [self.partition - timedelta(days=back) for back in range(self.days - 1, -1, -1)]


def _ensure_database(admin_dsn: str, name: str, variable: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        try:
            ensure_database(conn, name, owner=conn.info.user)
        except psycopg.errors.InsufficientPrivilege:
            raise SetupProblem(
                f"{variable} is unset and the database {name} does not exist; the login of ECOM_PG_DSN may not "
                f"create it\n  → create it (createdb {name}) or set {variable} to a database for Dagster's run history"
            ) from None


def _say(line: str) -> None:
    print(line, flush=True)


def _postgres(stack: ExitStack, state_dir: Path, env: dict[str, str]) -> None:
    configured = os.environ.get("ECOM_PG_DSN")
    if configured:
        hint = "\n    (or unset ECOM_PG_DSN: ./scripts/run.sh then starts an embedded PostgreSQL in .local/pgdata)"
        preflight.check_postgres(configured, "ECOM_PG_DSN", hint)
        dagster_url = os.environ.get("DAGSTER_PG_URL")
        if dagster_url:
            preflight.check_postgres(dagster_url, "DAGSTER_PG_URL")
            where = "DAGSTER_PG_URL"
        else:
            name = dagster_database(configured)
            _ensure_database(configured, name, "DAGSTER_PG_URL")
            dagster_url = with_database(configured, name)
            where = f"database {name} beside the warehouse (DAGSTER_PG_URL unset)"
        preflight.check_separate_databases(configured, dagster_url)
        env["DAGSTER_PG_URL"] = dagster_url
        _say(f"PostgreSQL: ECOM_PG_DSN; Dagster's run history in {where}")
        return
    admin = stack.enter_context(embedded_postgres(state_dir / "pgdata"))
    env["ECOM_PG_DSN"] = with_database(admin, WAREHOUSE_DATABASE)
    name = dagster_database(env["ECOM_PG_DSN"])
    for database in (WAREHOUSE_DATABASE, name):
        _ensure_database(admin, database, "DAGSTER_PG_URL")
    env["DAGSTER_PG_URL"] = with_database(admin, name)
    _say(f"PostgreSQL: embedded, data in {state_dir / 'pgdata'} (databases {WAREHOUSE_DATABASE} and {name})")


def _lake(stack: ExitStack, state_dir: Path, env: dict[str, str]) -> None:
    if os.environ.get("ECOM_S3_ENDPOINT_URL"):
        preflight.check_lake("\n    (or unset ECOM_S3_ENDPOINT_URL: the embedded lake keeps its objects in .local/lake)")
        _say(f"lake: ECOM_S3_ENDPOINT_URL {os.environ['ECOM_S3_ENDPOINT_URL']}")
        return
    lake = stack.enter_context(persistent_s3(state_dir / "lake"))
    env.update({"ECOM_S3_ENDPOINT_URL": lake.endpoint_url, "AWS_ACCESS_KEY_ID": lake.access_key_id,
                "AWS_SECRET_ACCESS_KEY": lake.secret_access_key})
    os.environ.update(env)
    preflight.check_lake()
    _say(f"lake: embedded S3 (rclone) at {lake.endpoint_url}, objects kept in {lake.directory}")


def simulated_catalog(options: Options, day: date) -> Catalog:
    """The bundled catalog of `day`: the day-by-day simulator, or the fixed awkward catalog."""
    if options.awkward:
        return GeneratedCatalog(size=options.products, awkward=True)
    return DailyCatalog(size=options.products, day=day)


def _catalog(stack: ExitStack, options: Options, env: dict[str, str]) -> CatalogServer | None:
    if options.offline:
        day = options.partition or datetime.now(UTC).date() - timedelta(days=1)
        server = stack.enter_context(CatalogServer(simulated_catalog(options, day)))
        env["ECOM_API_BASE_URL"] = server.url
        kind = "awkward records mixed in" if options.awkward else "a catalog that changes from day to day"
        _say(f"catalog: bundled catalog server at {server.url} (up to {options.products} products, {kind})")
        return server
    base_url = catalog_api_from_env().base_url
    if options.command != "run":  # dev, exec: the API may not be needed; say so, do not stop
        try:
            preflight.check_api(base_url)
        except SetupProblem as problem:
            _say(f"warning: {problem}")
        return None
    key = RAW_PRODUCTS_LOCATION.key(str(options.partition))
    raw_config = options.run_config.get("ops", {}).get("raw_products_parquet", {}).get("config", {})
    if not raw_config.get("refetch") and stored_object_exists(lake_from_env(), key):
        _say(f"catalog: {base_url} not needed, the snapshot of {options.partition} is stored")
        return None
    preflight.check_api(base_url)
    _say(f"catalog: {base_url}")
    return None


@contextmanager
def local_environment(options: Options) -> Iterator[tuple[dict[str, str], CatalogServer | None]]:
    """Check what is configured, start what is not; yields the variables a run needs (also set in os.environ)
    and the bundled catalog server when there is one."""
    state_dir = options.state_dir
    env: dict[str, str] = {}
    with ExitStack() as stack:
        _postgres(stack, state_dir, env)
        os.environ.update(env)
        _lake(stack, state_dir, env)
        os.environ.update(env)
        server = _catalog(stack, options, env)
        if not os.environ.get("DAGSTER_HOME"):
            dagster_home = state_dir / "dagster_home"
            dagster_home.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
            env["DAGSTER_HOME"] = str(dagster_home)
        os.environ.update(env)
        _migrate(os.environ["ECOM_PG_DSN"])
        yield env, server


def _migrate(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        if not missing_migrations(conn):
            return
        try:
            applied = migrate(conn)  # the set-up step; runs themselves only check the schema
        except psycopg.errors.InsufficientPrivilege:
            raise SetupProblem(
                "ECOM_PG_DSN: the warehouse schema is not current and this login may not change it\n"
                "  → run `.venv/bin/ecommerce-warehouse migrate` once with ECOM_PG_DSN set to the schema owner"
            ) from None
    _say(f"warehouse migrations applied: {', '.join(applied)}")


def _run_job(instance: Any, name: str, options: Options, partition: str | None,
             run_config: dict[str, Any]) -> tuple[Any, Path]:
    from ecommerce_assets.definitions import defs

    level = "INFO" if options.verbose else "CRITICAL"
    config = {**run_config, "loggers": {"console": {"config": {"log_level": level}}}}
    result = defs.resolve_job_def(name).execute_in_process(partition_key=partition, instance=instance,
                                                            raise_on_error=False, run_config=config)
    log_path = options.state_dir / "logs" / f"{partition or name}_{result.run_id[:8]}.log"
    report.write_log(instance, result.run_id, log_path)
    return result, log_path


def _failed(result: Any, partition: str, options: Options, log_path: Path, assets: tuple[str, ...]) -> int:
    events = result.all_events
    materialized = report.materializations(events)
    failed = report.failures(events)
    not_run = [a for a in assets if a not in materialized and a not in {f.step for f in failed}]
    for line in report.summary(materialized, result.get_asset_check_evaluations()):
        _say(line)
    ui = f"{options.rerun.split(' ')[0]} dev, then http://127.0.0.1:{options.port}"
    for line in report.failure_report(result.run_id, partition, failed, not_run, options.rerun, log_path, ui):
        print(line, file=sys.stderr, flush=True)
    return 1


def run(options: Options, server: CatalogServer | None) -> int:
    from dagster import DagsterInstance

    days = options.partitions()
    run_config = options.run_config
    if len(days) > 1:
        # the simulator serves each past day's catalog as it was: storing it under that day is right
        ops = {**run_config.get("ops", {})}
        raw = {**ops.get("raw_products_parquet", {}).get("config", {}), "allow_late_fetch": True}
        run_config = {**run_config, "ops": {**ops, "raw_products_parquet": {"config": raw}}}
        _say(f"simulating {len(days)} days, {days[0]} to {days[-1]}: each day fetched from the simulator's "
             "catalog of that day")
    with DagsterInstance.get() as instance:
        for day in days:
            partition = str(day)
            if server is not None:
                server.state.catalog = simulated_catalog(options, day)
            if len(days) == 1:
                _say(f"materializing {' → '.join(ASSETS)} for {partition} …")
            result, log_path = _run_job(instance, JOB, options, partition, run_config)
            if not result.success:
                return _failed(result, partition, options, log_path, ASSETS)
            materialized = report.materializations(result.all_events)
            if len(days) > 1:
                _say(report.day_line(partition, materialized))
        history, history_log = _run_job(instance, HISTORY_JOB, options, None, {})
        if not history.success:
            return _failed(history, str(days[-1]), options, history_log, (HISTORY_ASSET,))
    last = str(days[-1])
    _say(f"run {result.run_id[:8]} materialized {', '.join(ASSETS)} for {last}, then {HISTORY_ASSET} "
         f"(logs: {log_path.parent})")
    materialized.update(report.materializations(history.all_events))
    for line in report.summary(materialized, result.get_asset_check_evaluations()):
        _say(line)
    print_mart(os.environ["ECOM_PG_DSN"], last)
    print_changes(os.environ["ECOM_PG_DSN"], last)
    if len(days) > 1:
        print_price_history(os.environ["ECOM_PG_DSN"], days[0], days[-1])
    return 0


def _table(title: str, header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    table = [header] + [tuple("" if v is None else str(v) for v in row) for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    _say(f"\n{title}")
    for i, row in enumerate(table):
        _say("  ".join(v.ljust(w) if j == 0 else v.rjust(w) for j, (v, w) in enumerate(zip(row, widths, strict=True))))
        if i == 0:
            _say("  ".join("-" * w for w in widths))


def print_mart(dsn: str, partition: str) -> None:
    header = ("category", "product_count", "total_stock", "avg_price", "avg_rating", "out_of_stock_count",
              "inventory_value", "avg_discount_pct", "price_changes")
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(load_query("mart"), {"day": date.fromisoformat(partition)}).fetchall()
    _table(f"dm.fct_ecommerce, report_date = {partition}", header, rows)


def print_changes(dsn: str, partition: str) -> None:
    day = date.fromisoformat(partition)
    with psycopg.connect(dsn) as conn:
        counts = day_change_counts(conn, day)
        previous = previous_snapshot(conn, day)
        movers = conn.execute(load_sql("history/top_movers.sql"), {"day": day, "top": 5}).fetchall()
    if previous is None:
        _say(f"\nchanges on {partition}: none — the first snapshot in the ODS, nothing to compare it with")
        return
    _say(f"\nchanges on {partition} (against {previous}): "
         + ", ".join(f"{counts[kind]} {kind.replace('_', ' ')}" for kind in CHANGE_TYPES))
    if movers:
        _table("top price movers", ("product_id", "old_price", "new_price", "change_pct"), movers)


def print_price_history(dsn: str, first: date, last: date) -> None:
    """The history of the product whose price moved most often in the period."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute(load_query("busiest_product"), {"first": first, "last": last}).fetchone()
        if not found:
            return
        rows = conn.execute(load_query("product_history"), {"product_id": found[0]}).fetchall()
    _table(f"dm.dim_product_history, product {found[0]} ({found[1]}): {found[2]} price changes from {first} to {last}",
           ("valid_from", "valid_to", "price", "stock", "availability_status", "category"), rows)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def dev(options: Options) -> int:
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", "127.0.0.1",
               "-p", str(options.port), "--log-level", "info" if options.verbose else "warning"]
    env = dict(os.environ)
    if not options.verbose:
        env["PYTHONWARNINGS"] = "ignore"
    _say(f"Dagster UI on http://127.0.0.1:{options.port} (Ctrl-C stops it and the embedded services)")
    # Ctrl-C or SIGTERM (even when started in the background, where SIGINT is ignored) stops `dagster dev`
    # with SIGINT — its own way to stop — and then the embedded services.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    # run from the state folder: Dagster warns about a dagster.yaml in the working folder that is not DAGSTER_HOME's
    process = subprocess.Popen(command, cwd=options.state_dir, env=env,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        return 0


def execute(options: Options) -> int:
    """The command with the services' variables (ECOM_*, AWS_*, DAGSTER_HOME, DAGSTER_PG_URL) set."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return subprocess.run(options.exec_command, env=dict(os.environ)).returncode
    except FileNotFoundError:
        raise SetupProblem(f"exec: no such command: {options.exec_command[0]}") from None
    except KeyboardInterrupt:
        return 130


def parse(argv: list[str] | None, today: date) -> Options:
    yesterday = today - timedelta(days=1)
    parser = argparse.ArgumentParser(prog=_prog(), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "dev", "exec"],
                        help="run: materialize one day and print the mart; dev: the Dagster UI; exec -- CMD: run "
                             "CMD (the dagster CLI, say) with the services' variables set")
    parser.add_argument("--offline", action="store_true", help="use the bundled catalog server, not the public API")
    parser.add_argument("--date", default=str(yesterday), help=f"partition (YYYY-MM-DD); default yesterday, UTC ({yesterday})")
    parser.add_argument("--products", type=int, default=194, help="catalog size with --offline (default 194)")
    parser.add_argument("--days", type=int, default=1,
                        help="with --offline: build this many days of history, ending with --date (default 1)")
    parser.add_argument("--awkward", action="store_true", help="with --offline, mix in records the rules reject")
    parser.add_argument("--port", type=int, default=3000, help="UI port for dev (default 3000)")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("ECOM_LOCAL_STATE_DIR") or ".local"),
                        help="where the embedded services keep their data and runs their logs "
                             "(default $ECOM_LOCAL_STATE_DIR, else .local)")
    parser.add_argument("--verbose", action="store_true", help="Dagster's log and stack traces on the terminal")
    options = parser.add_argument_group("asset options (run config) for run")
    options.add_argument("--refetch", action="store_true", help="fetch again and replace a stored snapshot")
    options.add_argument("--allow-late-fetch", action="store_true",
                         help="store today's catalog under a date more than --max-fetch-lag-days ago")
    options.add_argument("--max-fetch-lag-days", type=int, help="days after its date a partition may be fetched (3)")
    options.add_argument("--accept-rejected-share", action="store_true",
                         help="build the mart although more records were rejected than ECOM_MAX_REJECTED_SHARE")
    options.add_argument("--confirm-shrink", action="store_true",
                         help="build the mart although the catalog shrank more than ECOM_MAX_CATALOG_SHRINK")
    given = list(sys.argv[1:] if argv is None else argv)
    own, exec_command = (given[:given.index("--")], given[given.index("--") + 1:]) if "--" in given else (given, [])
    args = parser.parse_args(own)
    if args.command == "exec" and not exec_command:
        parser.error(f"exec needs a command: {_prog()} exec [--offline] -- COMMAND [ARGS...]")
    if args.command != "exec" and exec_command:
        parser.error(f"unrecognized arguments: {' '.join(args.exec_command)}")
    raw: dict[str, Any] = {k: True for k in ("refetch", "allow_late_fetch") if getattr(args, k)}
    if args.max_fetch_lag_days is not None:
        raw["max_fetch_lag_days"] = args.max_fetch_lag_days
    mart = {k: True for k in ("accept_rejected_share", "confirm_shrink") if getattr(args, k)}
    ops = {name: {"config": config} for name, config in (("raw_products_parquet", raw), ("dm_fct_ecommerce", mart))
           if config}
    prefix = _prog()
    if prefix.endswith("run.sh") and given[:1] == ["run"]:
        given = given[1:]
    rerun = " ".join([prefix, *map(shlex.quote, given)])
    parsed = Options(
        command=args.command, offline=args.offline,
        partition=preflight.partition_date(args.date, today) if args.command == "run" else None,
        products=args.products, awkward=args.awkward, port=args.port, state_dir=args.state_dir.resolve(),
        verbose=args.verbose, run_config={"ops": ops} if ops else {}, rerun=rerun, exec_command=exec_command,
        days=_days(args.days, args.offline, args.awkward),
    )
    if parsed.partition is not None and parsed.partitions()[0] < date.fromisoformat(PARTITIONS_START):
        raise SetupProblem(f"--days {parsed.days} from --date {parsed.partition} starts before the first "
                           f"partition ({PARTITIONS_START})")
    return parsed


def _days(days: int, offline: bool, awkward: bool) -> int:
    if days < 1:
        raise SetupProblem(f"--days {days}: at least 1")
    if days > 1 and (not offline or awkward):
        raise SetupProblem(f"--days {days}: a past day's catalog exists only in the simulator\n"
                           "  → add --offline (without --awkward, whose catalog never changes)")
    return days


def _prog() -> str:
    """How the user called this: ./scripts/run.sh sets ECOM_LOCAL_COMMAND."""
    return os.environ.get("ECOM_LOCAL_COMMAND") or "python -m ecommerce_local"


def _quiet() -> None:
    """Third-party warnings are not the user's business on this command's terminal (--verbose shows them)."""
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")


def main(argv: list[str] | None = None) -> None:
    verbose = "--verbose" in (sys.argv[1:] if argv is None else argv)
    if not verbose:
        _quiet()
    try:
        options = parse(argv, datetime.now(UTC).date())
        options.state_dir.mkdir(parents=True, exist_ok=True)
        with local_environment(options) as (_, server):
            code = run(options, server) if options.command == "run" else dev(options) if options.command == "dev" \
                else execute(options)
    except SetupProblem as problem:
        print(f"{_prog()}: {problem}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:  # the output was piped into `head`, say
        code = 0
    except Exception as error:
        if verbose:
            raise
        print(f"{_prog()}: unexpected {type(error).__name__}: {error}\n  (--verbose shows the stack trace)",
              file=sys.stderr)
        code = 1
    raise SystemExit(code)


if __name__ == "__main__":
    main()
