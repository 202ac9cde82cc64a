#!/usr/bin/env bash
# One command runs every check: install into .venv, lint (ruff), type-check (mypy) and check the import
# layers (import-linter) of the code, then
# pytest (unit and integration tests; the integration tests use PostgreSQL at $ECOM_TEST_PG_DSN or start
# an embedded one, and start their own S3 server and catalog server on loopback).
#   ./scripts/test.sh [pytest arguments]
export ECOM_EXTRA=dev ECOM_WITH_AIRFLOW=1
source "$(dirname "$0")/_venv.sh"
# (set -e from _venv.sh: a finding stops here with a non-zero exit)
.venv/bin/ruff check --quiet .
echo "ruff: clean"
.venv/bin/mypy --no-error-summary
echo "mypy: clean"
# the layers of [tool.importlinter] in pyproject.toml; its report only when a contract is broken
layers="$(.venv/bin/lint-imports --no-logo --no-cache)" || { echo "$layers"; exit 1; }
echo "import layers: kept"
exec .venv/bin/python -m pytest "$@"
