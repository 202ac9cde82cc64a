"""`ecommerce-deploy`: `with-urls COMMAND...` is the entrypoint of every Dagster service container, so it loads
nothing but the standard library (a service starts without importing Dagster one more time); the one-shot
steps (`init-warehouse`, …) live in `cli.py`."""

import sys

from ecommerce_deploy.urls import exec_with_urls


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["with-urls"]:
        exec_with_urls(argv[1:])  # libpq URLs from their parts, then the service's own command (never returns)
        return
    from ecommerce_deploy import cli  # Dagster, psycopg and boto: only for the steps that use them

    cli.main(argv)
