"""The local platform's commands — run, dev, exec, psql (their command line: `arguments.py`): materialize days end
to end, open the Dagster UI, run a command, or open the warehouse in psql, on this machine alone, with the services
the environment does not configure started embedded."""

import argparse
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from ecommerce_assets.diagnosis import SetupProblem
from ecommerce_assets.partitions import PARTITIONS_START
from ecommerce_local import preflight, report, supervision
from ecommerce_local.arguments import command_line, prog, split
from ecommerce_local.platform import REPO_ROOT, Services, Simulator, local_platform, say

JOB = "ecommerce_daily_job"
CHAIN = ("raw_products_parquet", "ods_fct_products", "dm_fct_product_changes", "dm_fct_ecommerce")
SALES_JOB = "sales_daily_job"
SALES_CHAIN = ("raw_carts_parquet", "raw_users_parquet", "ods_fct_cart_lines", "ods_dim_customers")
SALES_RAW = ("raw_carts_parquet", "raw_users_parquet")


@dataclass(frozen=True)
class Options:
    command: str
    offline: bool
    partition: date | None
    products: int
    awkward: bool
    port: int
    state_dir: Path  # the state folder of this kind of source (`<folder>/offline` with --offline)
    verbose: bool
    run_config: dict[str, Any]
    rerun: str
    exec_command: list[str]
    days: int = 1

    def partitions(self) -> list[date]:
        """The days to materialize, oldest first: --days of them ending with --date."""
        assert self.partition is not None
        return [self.partition - timedelta(days=back) for back in range(self.days - 1, -1, -1)]

    @property
    def simulator(self) -> Simulator | None:
        return Simulator(self.products, self.awkward) if self.offline else None


def _instance(services: Services) -> Any:
    """Dagster's instance of the state folder. (Its dagster.yaml names the run history's database by the
    variable DAGSTER_PG_URL, as in every deployment: that variable is set for it here.)"""
    from dagster import DagsterInstance

    os.environ["DAGSTER_PG_URL"] = services.dagster_url
    return DagsterInstance.from_config(str(services.dagster_home))


def _prepare_instance(instance: Any, defs: Any) -> list[str]:
    """What a deployment's init step does: every concurrency pool exists before the first run; returns them."""
    from ecommerce_deploy.init_dagster import init_dagster, pools_of

    pools = pools_of(defs)
    init_dagster(instance, pools)
    return sorted(pools)


def run(options: Options, services: Services) -> int:
    from ecommerce_assets.definitions import build_defs

    days = options.partitions()
    run_config = options.run_config
    if len(days) > 1:
        # the simulator serves each past day's catalog as it was: storing it under that day is right
        ops = {**run_config.get("ops", {})}
        raw = {**ops.get("raw_products_parquet", {}).get("config", {}), "allow_late_fetch": True}
        run_config = {**run_config, "ops": {**ops, "raw_products_parquet": {"config": raw}}}
        say(f"simulating {len(days)} days, {days[0]} to {days[-1]}: each day fetched from the simulator's "
            "catalog of that day")
    defs = build_defs(services.resources())
    cursors_file = options.state_dir / "follow_up.json"
    # Ctrl-C and SIGTERM stop the run first, then the embedded services
    signal.signal(signal.SIGINT, supervision.request_stop)
    signal.signal(signal.SIGTERM, supervision.request_stop)
    with _instance(services) as instance:
        pools = _prepare_instance(instance, defs)
        supervision.free_dead(instance, pools, say)
        started: list[str] = []
        try:
            with supervision.signals_noticed(), supervision.watching(instance, pools, say):
                return _run_days(options, services, defs, instance, days, run_config, cursors_file, started)
        except KeyboardInterrupt:
            print(supervision.interrupted_line(instance, started), file=sys.stderr, flush=True)
            return 130


def _run_days(options: Options, services: Services, defs: Any, instance: Any, days: list[date],
              run_config: dict[str, Any], cursors_file: Path, started: list[str]) -> int:
    from dagster._core.utils import make_new_run_id

    from ecommerce_assets.definitions import FOLLOW_UP_SENSORS
    from ecommerce_assets.run_health import process_tags
    from ecommerce_local.follow_up import Cursors, Request, run_request, settle

    loggers = {"loggers": {"console": {"config": {"log_level": "INFO" if options.verbose else "CRITICAL"}}}}
    config = {**run_config, **loggers}

    def follow(request: Request) -> Any:  # the asset options were meant for the runner's own days
        outcome = run_request(defs, instance, request, loggers)
        if supervision.stop_requested() or (not outcome.success and report.interrupted(outcome.all_events)):
            raise KeyboardInterrupt
        return outcome

    cursors = Cursors.load(cursors_file)
    if cursors.automation is None:  # the evaluations' starting point, before this run's own materializations
        settle(defs, instance, cursors, FOLLOW_UP_SENSORS, follow)

    raw = run_config.get("ops", {}).get("raw_products_parquet", {}).get("config", {})
    sales_config = {**loggers, **({"ops": {op: {"config": raw} for op in SALES_RAW}} if raw else {})}
    for day in days:
        partition = str(day)
        if services.server is not None and options.simulator is not None:
            options.simulator.serve(services.server, day)
        if len(days) == 1:
            say(f"materializing {' → '.join(CHAIN)}, and {', '.join(SALES_CHAIN)}, for {partition} …")
        for job, job_config, chain in ((JOB, config, CHAIN), (SALES_JOB, sales_config, SALES_CHAIN)):
            run_id = make_new_run_id()
            started.append(run_id)
            result = defs.resolve_job_def(job).execute_in_process(partition_key=partition, instance=instance,
                                                                  raise_on_error=False, run_config=job_config,
                                                                  run_id=run_id, tags=process_tags())
            log_path = _write_log(instance, result.run_id, options, partition)
            if supervision.stop_requested() or (not result.success and report.interrupted(result.all_events)):
                raise KeyboardInterrupt
            if not result.success:
                return _failed(result, partition, options, log_path, chain)
            if job == JOB:
                last_result = result
            else:
                sales_result = result
        if len(days) > 1:
            say(report.day_line(partition, {**report.materializations(last_result.all_events),
                                            **report.materializations(sales_result.all_events)}))
    last = str(days[-1])
    # what the daemon would run next: the history, and days whose changes now compare with another day
    followed = settle(defs, instance, cursors, FOLLOW_UP_SENSORS, follow)
    cursors.save(cursors_file)
    for request, outcome in followed:
        if not outcome.success:
            log_path = _write_log(instance, outcome.run_id, options, request.partition or "follow-up")
            return _failed(outcome, request.partition or last, options, log_path,
                           tuple(sorted(k.to_user_string() for k in request.assets)))
    materialized = {**report.materializations(last_result.all_events), **report.materializations(sales_result.all_events)}
    say(f"runs {last_result.run_id[:8]} and {sales_result.run_id[:8]} materialized {', '.join(CHAIN)} and "
        f"{', '.join(SALES_CHAIN)} for {last} (logs: {log_path.parent})")
    for request, outcome in followed:
        found = report.materializations(outcome.all_events)
        materialized.update({name: meta for name, meta in found.items() if name not in materialized})
        if request.partition and request.partition != last:
            say(f"then derived again what {last} changed: {', '.join(sorted(found))} of {request.partition}")
    evaluations = [*last_result.get_asset_check_evaluations(), *sales_result.get_asset_check_evaluations()]
    for _, outcome in followed:
        evaluations.extend(outcome.get_asset_check_evaluations())
    for line in report.summary(materialized, evaluations):
        say(line)
    dsn = services.warehouse_dsn
    report.print_mart(dsn, last)
    report.print_changes(materialized.get("dm_fct_product_changes", {}), last)
    if len(days) > 1:
        report.print_price_history(dsn, days[0], days[-1])
    report.print_sales(dsn, last)
    report.print_customers(dsn, days[0], days[-1])
    return 0


def _write_log(instance: Any, run_id: str, options: Options, partition: str) -> Path:
    log_path = options.state_dir / "logs" / f"{partition}_{run_id[:8]}.log"
    report.write_log(instance, run_id, log_path)
    return log_path


def _failed(result: Any, partition: str, options: Options, log_path: Path, assets: tuple[str, ...]) -> int:
    events = result.all_events
    materialized = report.materializations(events)
    evaluations = result.get_asset_check_evaluations()
    failed = report.failures(events, evaluations)
    not_run = [a for a in assets if a not in materialized and a not in {f.step for f in failed}]
    for line in report.summary(materialized, evaluations):
        say(line)
    ui = f"{prog()} dev, then http://127.0.0.1:{options.port}"
    for line in report.failure_report(result.run_id, partition, failed, not_run, options.rerun, log_path, ui):
        print(line, file=sys.stderr, flush=True)
    return 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def dev(options: Options, services: Services) -> int:
    from dagster import DagsterInstance

    from ecommerce_assets.definitions import defs

    env = {**os.environ, **services.env}
    os.environ["DAGSTER_PG_URL"] = services.dagster_url
    with DagsterInstance.from_config(str(services.dagster_home)) as instance:
        _prepare_instance(instance, defs)
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", "127.0.0.1",
               "-p", str(options.port), "--log-level", "info" if options.verbose else "warning"]
    if not options.verbose:
        env["PYTHONWARNINGS"] = "ignore"
    say(f"Dagster UI on http://127.0.0.1:{options.port} (Ctrl-C stops it and the embedded services)")
    # Ctrl-C or SIGTERM (even when started in the background, where SIGINT is ignored) stops `dagster dev`
    # with SIGINT — its own way to stop — and then the embedded services.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    # run from the state folder: Dagster warns about a dagster.yaml in the working folder that is not DAGSTER_HOME's
    # in a process group of its own, so that a `dagster dev` too slow to stop is killed with every process it
    # started (its daemon, webserver and code servers would otherwise outlive it)
    process = subprocess.Popen(command, cwd=options.state_dir, env=env, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            say("dagster dev did not stop within 60 s: killed with its processes")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever of the group is left
        process.wait()
        return 0


def execute(options: Options, services: Services) -> int:
    """The command with the services' variables (ECOM_*, AWS_*, DAGSTER_HOME, DAGSTER_PG_URL) set."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return subprocess.run(options.exec_command, env={**os.environ, **services.env}).returncode
    except FileNotFoundError:
        raise SetupProblem(f"exec: no such command: {options.exec_command[0]}") from None
    except KeyboardInterrupt:
        return 130


def psql(options: Options, services: Services) -> int:
    """psql on the warehouse (the embedded one, or ECOM_PG_DSN's), with any psql arguments after `--`."""
    binary = _psql_binary()
    if binary is None:
        raise SetupProblem("psql: not found\n  → install PostgreSQL's client (Debian: apt install postgresql-client)")
    dsn = os.environ["ECOM_PG_DSN"] if services.warehouse_configured else services.warehouse_dsn
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to psql (it cancels the query)
    return subprocess.run([binary, dsn, *options.exec_command]).returncode


def _psql_binary() -> str | None:
    try:
        import pgserver  # the embedded server's own client, of its own version

        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("psql")


def parse(argv: list[str] | None, today: date) -> Options:
    parser = command_line(today)
    given = list(sys.argv[1:] if argv is None else argv)
    own, extra = split(given)
    args = parser.parse_args(own)
    if args.command == "exec" and not extra:
        parser.error(f"exec needs a command: {prog()} exec [--offline] -- COMMAND [ARGS...]")
    if args.command not in ("exec", "psql") and extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    prefix = prog()
    if prefix.endswith("run.sh") and given[:1] == ["run"]:
        given = given[1:]
    rerun = " ".join([prefix, *map(shlex.quote, given)])
    state_dir = args.state_dir.resolve() / ("offline" if args.offline else "")
    parsed = Options(
        command=args.command, offline=args.offline,
        partition=preflight.partition_date(args.date, today) if args.command == "run" else None,
        products=args.products, awkward=args.awkward, port=args.port, state_dir=state_dir,
        verbose=args.verbose, run_config=run_config(args), rerun=rerun, exec_command=extra,
        days=_days(args.days, args.offline, args.awkward),
    )
    if parsed.partition is not None and parsed.partitions()[0] < date.fromisoformat(PARTITIONS_START):
        raise SetupProblem(f"--days {parsed.days} from --date {parsed.partition} starts before the first "
                           f"partition ({PARTITIONS_START})")
    return parsed


def run_config(args: argparse.Namespace) -> dict[str, Any]:
    """The run config the asset options ask for: the raw snapshot's options, and the gates' overrides (each the
    config of its check's op)."""
    from ecommerce_assets.defs.products.checks import (
        ods_fct_products__catalog_shrink,
        ods_fct_products__rejected_share,
    )

    raw: dict[str, Any] = {k: True for k in ("refetch", "allow_late_fetch") if getattr(args, k)}
    if args.max_fetch_lag_days is not None:
        raw["max_fetch_lag_days"] = args.max_fetch_lag_days
    ops: dict[str, Any] = {"raw_products_parquet": {"config": raw}} if raw else {}
    if args.accept_rejected_share:
        ops[ods_fct_products__rejected_share.op.name] = {"config": {"accept_rejected_share": True}}
    if args.confirm_shrink:
        ops[ods_fct_products__catalog_shrink.op.name] = {"config": {"confirm_shrink": True}}
    return {"ops": ops} if ops else {}


def _days(days: int, offline: bool, awkward: bool) -> int:
    if days < 1:
        raise SetupProblem(f"--days {days}: at least 1")
    if days > 1 and (not offline or awkward):
        raise SetupProblem(f"--days {days}: a past day's catalog exists only in the simulator\n"
                           "  → add --offline (without --awkward, whose catalog never changes)")
    return days


def _quiet() -> None:
    """Third-party warnings are not the user's business on this command's terminal (--verbose shows them)."""
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")


COMMANDS = {"run": run, "dev": dev, "exec": execute, "psql": psql}


def main(argv: list[str] | None = None) -> None:
    verbose = "--verbose" in (sys.argv[1:] if argv is None else argv)
    if not verbose:
        _quiet()
    try:
        options = parse(argv, datetime.now(UTC).date())
        options.state_dir.mkdir(parents=True, exist_ok=True)
        # the day the simulator serves first: the run's first day; for dev, exec and psql the default partition
        # (yesterday, UTC), the day a command run there most likely materializes
        first_day = options.partitions()[0] if options.partition else datetime.now(UTC).date() - timedelta(days=1)
        from ecommerce_assets.defs.products.snapshot import PRODUCTS  # after _quiet(): the definitions warn on import

        refetch = options.run_config.get("ops", {}).get("raw_products_parquet", {}).get("config", {}).get("refetch")
        stored_key = PRODUCTS.location.key(str(first_day)) if options.partition and options.days == 1 and not refetch else None
        with ExitStack() as stack:
            if options.command == "dev":  # one UI per state folder: a second one refuses before starting anything
                stack.enter_context(supervision.single_dev(options.state_dir, options.port, prog()))
            services = stack.enter_context(local_platform(
                options.state_dir, options.simulator, first_day, stored_key=stored_key,
                needs_api=options.command == "run" and not options.offline))
            code = COMMANDS[options.command](options, services)
    except SetupProblem as problem:
        print(f"{prog()}: {problem}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:  # the output was piped into `head`, say
        code = 0
    except psycopg.OperationalError as error:
        print(f"{prog()}: the warehouse stopped answering: {str(error).strip()}", file=sys.stderr)
        code = 1
    except Exception as error:
        if verbose:
            raise
        print(f"{prog()}: unexpected {type(error).__name__}: {error}\n  (--verbose shows the stack trace)",
              file=sys.stderr)
        code = 1
    raise SystemExit(code)


if __name__ == "__main__":
    main()
