#!/usr/bin/env bash
# One command from a fresh clone: install what running needs into .venv, start the services that are not
# configured (PostgreSQL, S3; the catalog server with --offline), materialize yesterday's partition of the whole
# chain and print the mart.   ./scripts/run.sh [--offline] [--date YYYY-MM-DD] [--help for all flags]
# The Dagster UI with the same services:   ./scripts/run.sh dev [--offline]
# Any command with the services' variables set:   ./scripts/run.sh exec [--offline] -- COMMAND [ARGS...]
# The warehouse in psql:   ./scripts/run.sh psql [--offline] [-- PSQL ARGS...]
export ECOM_EXTRA="${ECOM_EXTRA:-local}"
source "$(dirname "$0")/_venv.sh"
export ECOM_LOCAL_COMMAND="./scripts/run.sh"
case "${1:-}" in
    run|dev|exec|psql) exec .venv/bin/python -m ecommerce_local "$@" ;;
esac
exec .venv/bin/python -m ecommerce_local run "$@"
