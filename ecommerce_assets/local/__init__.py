"""Embedded local services (PostgreSQL via pgserver, S3 via moto) and the run/dev command."""
