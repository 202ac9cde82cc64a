#!/usr/bin/env bash
# The test suite, in tiers (docs/testing.md).
#   ./scripts/test.sh [pytest arguments]          everything: ruff, mypy, the import layers, then every tier of
#                                                 pytest on $ECOM_TEST_WORKERS processes (default 5); .ci/run runs this
#   ./scripts/test.sh --fast [pytest arguments]   the loop you are in, under a minute: ruff, then the unit tier
#                                                 (property tests draw a fifth of their examples)
#   ./scripts/test.sh --soak [pytest arguments]   the soak tier alone: chaos at production durations and bounds,
#                                                 real servers stopped and started (about ten minutes)
# Installs into .venv first (and .venv-airflow, which only the system tier needs, alongside). Integration and
# system tests use PostgreSQL at $ECOM_TEST_PG_DSN (else the local server, else an embedded one) and start
# their own S3 server and catalog server on loopback.
export ECOM_EXTRA=dev
FAST=0
SOAK=0
if [ "${1:-}" = "--fast" ]; then
    FAST=1
    shift
elif [ "${1:-}" = "--soak" ]; then
    SOAK=1
    shift
fi
if [ "$FAST" = 1 ] || [ "$SOAK" = 1 ]; then
    export ECOM_WITH_AIRFLOW=0
else
    export ECOM_WITH_AIRFLOW=1
fi
source "$(dirname "$0")/_venv.sh"
# (set -e from _venv.sh: a finding stops here with a non-zero exit)
.venv/bin/ruff check --quiet .
echo "ruff: clean"
if [ "$FAST" = 1 ]; then
    export ECOM_TEST_FAST=1
    exec .venv/bin/python -m pytest -m unit -n "${ECOM_TEST_WORKERS:-2}" -q --durations=10 "$@"
fi
if [ "$SOAK" = 1 ]; then
    exec .venv/bin/python -m pytest --soak -v --durations=10 -s "$@"
fi
.venv/bin/mypy --no-error-summary
echo "mypy: clean"
# the layers of [tool.importlinter] in pyproject.toml; its report only when a contract is broken
layers="$(.venv/bin/lint-imports --no-logo --no-cache)" || { echo "$layers"; exit 1; }
echo "import layers: kept"
# one test at a time to whichever worker is free, in the order conftest.py sorts them (the longest tier first):
# the long system tests spread over the workers instead of queueing on the first
exec .venv/bin/python -m pytest -n "${ECOM_TEST_WORKERS:-5}" --dist load --maxschedchunk 1 --durations=25 "$@"
