#!/usr/bin/env bash
# One command runs every test: install into .venv, then pytest (unit and integration tests; the
# integration tests use PostgreSQL at $ECOM_TEST_PG_DSN or start an embedded one, and start their own
# S3 server and catalog server on loopback).   ./scripts/test.sh [pytest arguments]
source "$(dirname "$0")/_venv.sh"
exec .venv/bin/python -m pytest "$@"
