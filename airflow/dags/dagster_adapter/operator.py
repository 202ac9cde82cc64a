"""The operator: materialize one asset partition (= Airflow's ds) in Dagster and succeed or fail with it."""

import time
from typing import Any

from airflow.sdk import BaseHook, BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from dagster_adapter.client import TERMINAL, DagsterEndpoint, check_partition_key, endpoint_from_connection
from dagster_adapter.settings import DAGSTER_CONN_ID, POLL_SECONDS, SETTLE_POLL_SECONDS, SETTLE_WINDOW_SECONDS


class DagsterAssetPartitionOperator(BaseOperator):
    """Materializes `asset` for the partition `partition_key` (default `{{ ds }}`) through the Dagster job
    `job`, waits for the run, logs its id and UI link, and fails with the run's error.

    With `upstream` set and the DAG param `force` false (the default), Dagster's own automation is not
    duplicated: a partition already materialized after its upstream succeeds at once, and a queued or
    running Dagster run for it is awaited instead of submitting another.
    Killing or timing out the task terminates the Dagster run.
    """

    template_fields = ("partition_key", "run_config")
    ui_color = "#4f43dd"
    ui_fgcolor = "#ffffff"

    def __init__(self, *, job: str, asset: str, upstream: str | None = None, partition_key: str = "{{ ds }}",
                 run_config: dict[str, Any] | None = None, dagster_conn_id: str = DAGSTER_CONN_ID,
                 poll_seconds: float = POLL_SECONDS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.asset = asset
        self.upstream = upstream
        self.partition_key = partition_key
        self.run_config = run_config
        self.dagster_conn_id = dagster_conn_id
        self.poll_seconds = poll_seconds
        self._endpoint: DagsterEndpoint | None = None
        self._run_id: str | None = None

    def execute(self, context: Any) -> str | None:
        partition = check_partition_key(str(self.partition_key))
        endpoint = self._endpoint = endpoint_from_connection(BaseHook.get_connection(self.dagster_conn_id))
        force = bool((context.get("params") or {}).get("force", False))
        run_id = None
        if self.upstream and not force:
            state = endpoint.partition_state(self.asset, self.upstream, partition)
            if state.materialized_by:
                self.log.info("%s %s is already materialized after its upstream, by Dagster run %s: %s",
                              self.asset, partition, state.materialized_by, endpoint.run_url(state.materialized_by))
                return state.materialized_by
            if state.in_flight_run:
                run_id = state.in_flight_run
                self.log.info("Dagster is already materializing %s %s (automation): waiting for run %s",
                              self.asset, partition, run_id)
        submitted = None
        if run_id is None:
            tags = {"airflow/dag_id": str(context["dag"].dag_id), "airflow/run_id": str(context["run_id"])}
            run_id = submitted = endpoint.submit(self.job, partition, self.run_config, tags)
            self.log.info("submitted Dagster job %s for partition %s", self.job, partition)
        self._run_id = run_id
        self.log.info("Dagster run %s: %s", run_id, endpoint.run_url(run_id))
        try:
            status = self._wait(endpoint, partition, submitted if self.upstream and not force else None)
        except BaseException:
            # Timeout or interruption of this task: the Dagster run must not outlive it.
            self._terminate()
            raise
        run_id = self._run_id
        if status != "SUCCESS":
            # Dagster already retried what is worth retrying inside the run; Airflow retries would only
            # repeat a failed run, so fail without them (errors reaching Dagster are retried above).
            raise AirflowFailException(
                f"Dagster run {run_id} of {self.job} for partition {partition} ended {status}: "
                f"{endpoint.failure(run_id)}\n{endpoint.run_url(run_id)}"
            )
        self.log.info("Dagster run %s succeeded: %s %s materialized", run_id, self.asset, partition)
        return run_id

    def _wait(self, endpoint: DagsterEndpoint, partition: str, submitted: str | None) -> str:
        """Poll the run until it ends. With a run we `submitted`, another submitter's run of the same asset
        partition — submitted in the moment between our look and our submission — is settled with ours while
        ours waits in the queue or runs (DagsterEndpoint.settle): one of the two is cancelled before it starts,
        and the other awaited. A cancelled run is settled once more, so its successor is awaited. In the first
        SETTLE_WINDOW_SECONDS after our submission, when such a run appears, it is looked for every
        SETTLE_POLL_SECONDS: the daemon takes a run out of the queue within seconds, and only a queued run can
        be cancelled."""
        assert self._run_id is not None
        said: set[str] = set()
        submitted_at = time.monotonic()
        while True:
            status = endpoint.status(self._run_id)
            if submitted is not None and (status == "CANCELED" or (self._run_id == submitted and status not in TERMINAL)):
                settled = endpoint.settle(self.asset, partition, submitted)
                for note in settled.notes:
                    if note not in said:
                        said.add(note)
                        self.log.warning("%s", note)
                if settled.run_id != self._run_id:
                    self._run_id = settled.run_id
                    self.log.info("Dagster run %s: %s", settled.run_id, endpoint.run_url(settled.run_id))
                    continue
            if status in TERMINAL:
                return status
            settling = submitted is not None and time.monotonic() - submitted_at < SETTLE_WINDOW_SECONDS
            time.sleep(min(self.poll_seconds, SETTLE_POLL_SECONDS) if settling else self.poll_seconds)

    def on_kill(self) -> None:
        self._terminate()

    def _terminate(self) -> None:
        if self._endpoint is None or self._run_id is None:
            return
        try:
            if self._endpoint.status(self._run_id) not in ("SUCCESS", "FAILURE", "CANCELED"):
                self._endpoint.terminate(self._run_id)
                self.log.warning("terminated Dagster run %s", self._run_id)
        except Exception as exc:
            self.log.error("could not terminate Dagster run %s: %s", self._run_id, exc)
