"""Builders of the three adapter DAGs, keeping the old pipeline's ids, schedule and dependencies."""

from datetime import datetime

from airflow.providers.standard.sensors.external_task import ExternalTaskSensor
from airflow.sdk import DAG, Param
from airflow.timetables.interval import CronDataIntervalTimetable

from dagster_adapter.operator import DagsterAssetPartitionOperator
from dagster_adapter.settings import DEFAULT_ARGS, SCHEDULE_CRON, SCHEDULE_TIMEZONE, SENSOR_POKE_SECONDS, SENSOR_TIMEOUT

START = datetime(2025, 1, 1)
FORCE = Param(False, type="boolean",
              description="submit a Dagster run even if Dagster's automation already materialized the partition")


def _dag(dag_id: str, description: str, params: dict[str, Param]) -> DAG:
    # An interval timetable keeps the old meaning of ds: the day that just ended, whatever the time zone.
    return DAG(
        dag_id=dag_id,
        description=description,
        schedule=CronDataIntervalTimetable(SCHEDULE_CRON, timezone=SCHEDULE_TIMEZONE),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        params=params,
        render_template_as_native_obj=True,
        tags=["ecommerce", "dagster"],
    )


def _wait_for(upstream_dag: str, upstream_task: str) -> ExternalTaskSensor:
    return ExternalTaskSensor(
        task_id=f"wait_for_{upstream_dag}",
        external_dag_id=upstream_dag,
        external_task_id=upstream_task,
        allowed_states=["success"],
        failed_states=["failed", "upstream_failed"],
        mode="reschedule",
        poke_interval=SENSOR_POKE_SECONDS,
        timeout=SENSOR_TIMEOUT.total_seconds(),
    )


def raw_dag(dag_id: str, job: str, asset: str) -> DAG:
    with _dag(dag_id, f"Materialize {asset} in Dagster for ds", {
        "refetch": Param(False, type="boolean", description="replace a stored snapshot"),
        "allow_late_fetch": Param(False, type="boolean", description="fetch a date older than 3 days"),
    }) as dag:
        DagsterAssetPartitionOperator(
            task_id=f"materialize_{asset}",
            job=job,
            asset=asset,
            run_config={"ops": {asset: {"config": {
                "refetch": "{{ params.refetch }}", "allow_late_fetch": "{{ params.allow_late_fetch }}",
            }}}},
        )
    return dag


def follower_dag(dag_id: str, job: str, asset: str, upstream_asset: str, upstream_dag: str) -> DAG:
    with _dag(dag_id, f"Materialize {asset} in Dagster for ds after {upstream_dag}", {"force": FORCE}) as dag:
        _wait_for(upstream_dag, f"materialize_{upstream_asset}") >> DagsterAssetPartitionOperator(
            task_id=f"materialize_{asset}", job=job, asset=asset, upstream=upstream_asset,
        )
    return dag
