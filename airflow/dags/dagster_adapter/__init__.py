"""Airflow → Dagster adapter: materialize an asset partition in Dagster from an Airflow task."""
