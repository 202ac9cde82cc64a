#!/usr/bin/env bash
# One command from a fresh clone: install what running needs into .venv, start the services that are not
# configured (PostgreSQL, S3; the catalog server with --offline), materialize yesterday's partition of all
# three assets and print the mart.   ./scripts/run.sh [--offline] [--date YYYY-MM-DD] [--help for all flags]
# The Dagster UI with the same services:   ./scripts/run.sh dev [--offline]
# Any command with the services' variables set:   ./scripts/run.sh exec [--offline] -- COMMAND [ARGS...]
export ECOM_EXTRA="${ECOM_EXTRA:-local}"
source "$(dirname "$0")/_venv.sh"
export ECOM_LOCAL_COMMAND="./scripts/run.sh"
case "${1:-}" in
    dev|exec) exec .venv/bin/python -m ecommerce_local "$@" ;;
esac
exec .venv/bin/python -m ecommerce_local run "$@"
