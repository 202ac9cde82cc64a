"""Airflow DAG raw_s3_api: snapshot the catalog to S3 — now by materializing raw_products_parquet in Dagster."""

from dagster_adapter.dags import raw_dag
from dagster_adapter.settings import RAW_ASSET, RAW_JOB

dag = raw_dag("raw_s3_api", RAW_JOB, RAW_ASSET)
