"""Airflow DAG ecommerce_ods_pg: load the ODS in PostgreSQL — now by materializing ods_fct_products in Dagster."""

from dagster_adapter.dags import follower_dag
from dagster_adapter.settings import ODS_ASSET, ODS_JOB, RAW_ASSET

dag = follower_dag("ecommerce_ods_pg", ODS_JOB, ODS_ASSET, upstream_asset=RAW_ASSET, upstream_dag="raw_s3_api")
