"""Airflow DAG dm_ecommerce_analytics: build the daily category mart — now by materializing dm_fct_ecommerce in Dagster."""

from dagster_adapter.dags import follower_dag
from dagster_adapter.settings import DM_ASSET, DM_JOB, ODS_ASSET

dag = follower_dag("dm_ecommerce_analytics", DM_JOB, DM_ASSET, upstream_asset=ODS_ASSET, upstream_dag="ecommerce_ods_pg")
