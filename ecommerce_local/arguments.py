"""The local platform's command line (`python -m ecommerce_local`, what ./scripts/run.sh runs), with nothing but
the standard library: `--help` and a malformed command line are answered before the platform's modules load
(Dagster and the lake take seconds to import)."""

import argparse
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

DESCRIPTION = """`python -m ecommerce_local run|dev|exec|psql` (what ./scripts/run.sh runs): materialize days end to end, open
the Dagster UI, run a command, or open the warehouse in psql, on this machine alone.

Services the environment does not configure are started embedded, their data kept in the state folder
(`.local/`; with --offline `.local/offline/`, the simulator's state apart from the real API's): PostgreSQL
(pgserver) when ECOM_PG_DSN is unset, an S3 server over a folder (rclone) when ECOM_S3_ENDPOINT_URL is
unset, and with --offline the bundled catalog server instead of the public API. Dagster's run history goes
to a database of its own (DAGSTER_PG_URL, else `<warehouse>_dagster` beside the warehouse's). Configuration
problems are reported before a run starts.
"""


def prog() -> str:
    """How the user called this: ./scripts/run.sh sets ECOM_LOCAL_COMMAND."""
    return os.environ.get("ECOM_LOCAL_COMMAND") or "python -m ecommerce_local"


def command_line(today: date) -> argparse.ArgumentParser:
    """The commands, flags and asset options, their defaults as of `today`."""
    yesterday = today - timedelta(days=1)
    parser = argparse.ArgumentParser(prog=prog(), description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "dev", "exec", "psql"],
                        help="run: materialize days and print the mart; dev: the Dagster UI; exec -- CMD: run CMD "
                             "(the dagster CLI, say) with the services' variables set; psql [-- ARGS]: the warehouse "
                             "in psql")
    parser.add_argument("--offline", action="store_true", help="use the bundled catalog server, not the public API")
    parser.add_argument("--date", default=str(yesterday), help=f"partition (YYYY-MM-DD); default yesterday, UTC ({yesterday})")
    parser.add_argument("--products", type=int, default=194, help="catalog size with --offline (default 194)")
    parser.add_argument("--days", type=int, default=1,
                        help="with --offline: build this many days of history, ending with --date (default 1)")
    parser.add_argument("--awkward", action="store_true", help="with --offline, mix in records the rules reject")
    parser.add_argument("--port", type=int, default=3000, help="UI port for dev (default 3000)")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("ECOM_LOCAL_STATE_DIR") or ".local"),
                        help="where the embedded services keep their data and runs their logs (default "
                             "$ECOM_LOCAL_STATE_DIR, else .local; with --offline its sub-folder offline/)")
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
    return parser


def split(argv: list[str]) -> tuple[list[str], list[str]]:
    """The command line's own arguments and, after a `--`, those of the command it runs (exec, psql)."""
    return (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])


def answer_early(argv: list[str]) -> None:
    """Let argparse read the command line's own arguments (not those after `--`: the command's) before anything
    else loads: it prints the help and exits, or refuses a malformed command line, as `cli.parse` would."""
    command_line(datetime.now(UTC).date()).parse_args(split(argv)[0])
