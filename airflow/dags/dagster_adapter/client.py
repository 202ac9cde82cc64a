"""Talking to Dagster's webserver: dagster-graphql's client for runs, two read-only queries it lacks,
and retries on transient errors (webserver restarting, 5xx, connection refused)."""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

T = TypeVar("T")
PARTITION_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

# dagster-graphql's client submits, polls and terminates runs but cannot look up materializations or
# runs by tag, nor read a failed run's errors: these three read-only queries fill the gap.
_PARTITION_STATE = """
query PartitionState($asset: AssetKeyInput!, $upstream: AssetKeyInput!, $partition: String!, $tag: String!) {
  asset: assetOrError(assetKey: $asset) { ... on Asset { assetMaterializations(partitions: [$partition], limit: 1) { runId timestamp } } }
  upstream: assetOrError(assetKey: $upstream) { ... on Asset { assetMaterializations(partitions: [$partition], limit: 1) { runId timestamp } } }
  runsOrError(filter: {tags: [{key: "dagster/partition", value: $tag}], statuses: [QUEUED, NOT_STARTED, STARTING, STARTED]}) {
    ... on Runs { results { runId status assetSelection { path } } }
  }
}
"""
_RUN_ERRORS = """
query RunErrors($runId: ID!) {
  logsForRun(runId: $runId, limit: 1000) {
    ... on EventConnection { events { __typename
      ... on ExecutionStepFailureEvent { stepKey error { className message cause { className message } } }
      ... on RunFailureEvent { message }
    } }
  }
}
"""


class DagsterUnavailable(RuntimeError):
    """Dagster's webserver could not be reached or answered with a server error."""


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, (DagsterUnavailable, requests.ConnectionError, requests.Timeout)):
        return True
    if isinstance(exc, DagsterGraphQLClientError):
        text = f"{exc} {exc.__cause__!r}"
        return any(s in text for s in ("Connection", "Timeout", "502", "503", "504", "500", "refused", "reset"))
    return False


def with_retries(fn: Callable[[], T]) -> T:
    """Call `fn`, retrying transient failures for about two minutes."""
    return retry(  # type: ignore[no-any-return]
        retry=retry_if_exception(_transient), stop=stop_after_attempt(8),
        wait=wait_exponential(multiplier=1, max=30), reraise=True,
    )(fn)()


@dataclass(frozen=True)
class PartitionState:
    materialized_by: str | None          # run that materialized the asset partition after its upstream, if any
    in_flight_run: str | None            # a queued or running run that targets the asset partition, if any


@dataclass(frozen=True)
class DagsterEndpoint:
    """Where Dagster's webserver is and which code location serves the pipeline."""

    host: str
    port: int | None
    use_https: bool
    location: str
    ui_url: str
    auth: tuple[str, str] | None = None
    timeout_seconds: int = 60

    @property
    def graphql_url(self) -> str:
        scheme = "https" if self.use_https else "http"
        return f"{scheme}://{self.host}{f':{self.port}' if self.port else ''}/graphql"

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}"

    def client(self) -> DagsterGraphQLClient:
        auth = requests.auth.HTTPBasicAuth(*self.auth) if self.auth else None
        return DagsterGraphQLClient(self.host, port_number=self.port, use_https=self.use_https,
                                    timeout=self.timeout_seconds, auth=auth)

    def query(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            response = requests.post(self.graphql_url, json={"query": document, "variables": variables},
                                     auth=self.auth, timeout=self.timeout_seconds)
            if response.status_code >= 500:
                raise DagsterUnavailable(f"{self.graphql_url} answered HTTP {response.status_code}")
            response.raise_for_status()
            body = response.json()
            if body.get("errors"):
                raise RuntimeError(f"Dagster GraphQL errors: {body['errors']}")
            return dict(body["data"])
        return with_retries(call)

    def submit(self, job: str, partition: str, run_config: dict[str, Any] | None, tags: dict[str, str]) -> str:
        return with_retries(lambda: self.client().submit_job_execution(
            job, repository_location_name=self.location, run_config=run_config or {},
            tags={"dagster/partition": partition, **tags},
        ))

    def status(self, run_id: str) -> str:
        return with_retries(lambda: self.client().get_run_status(run_id).value)

    def terminate(self, run_id: str) -> None:
        with_retries(lambda: self.client().terminate_run(run_id))

    def wait(self, run_id: str, poll_seconds: float, on_poll: Callable[[str], None] | None = None) -> str:
        while True:
            status = self.status(run_id)
            if on_poll:
                on_poll(status)
            if status in TERMINAL:
                return status
            time.sleep(poll_seconds)

    def partition_state(self, asset: str, upstream: str, partition: str) -> PartitionState:
        data = self.query(_PARTITION_STATE, {"asset": {"path": [asset]}, "upstream": {"path": [upstream]},
                                             "partition": partition, "tag": partition})
        own = (data.get("asset") or {}).get("assetMaterializations") or []
        up = (data.get("upstream") or {}).get("assetMaterializations") or []
        materialized_by = None
        if own and (not up or float(own[0]["timestamp"]) >= float(up[0]["timestamp"])):
            materialized_by = str(own[0]["runId"])
        in_flight = None
        for run in (data.get("runsOrError") or {}).get("results") or []:
            if [asset] in [key["path"] for key in run.get("assetSelection") or []]:
                in_flight = str(run["runId"])
                break
        return PartitionState(materialized_by=materialized_by, in_flight_run=in_flight)

    def failure(self, run_id: str) -> str:
        """The errors of a failed run, innermost first where Dagster wrapped them."""
        events = ((self.query(_RUN_ERRORS, {"runId": run_id}).get("logsForRun") or {}).get("events")) or []
        lines = []
        for event in events:
            if event["__typename"] == "ExecutionStepFailureEvent" and event.get("error"):
                error = event["error"]
                cause = error.get("cause")
                detail = cause if cause and (error.get("className") or "").startswith("Dagster") else error
                lines.append(f"{event['stepKey']}: {detail.get('className') or ''}: {detail['message'].strip()}")
        if not lines:
            lines = [e["message"] for e in events if e["__typename"] == "RunFailureEvent" and e.get("message")]
        return "\n".join(lines) or "no error message recorded"


def endpoint_from_connection(conn: Any) -> DagsterEndpoint:
    """A DagsterEndpoint from an Airflow connection (conn_type http/https, host, port; extras `location`,
    `ui_url`), such as AIRFLOW_CONN_DAGSTER_DEFAULT=http://dagster-webserver:3000?location=ecommerce_assets."""
    extra = conn.extra_dejson or {}
    use_https = (conn.conn_type or "").lower() == "https" or (conn.schema or "").lower() == "https"
    host = conn.host or "localhost"
    port = int(conn.port) if conn.port else None
    scheme = "https" if use_https else "http"
    default_ui = f"{scheme}://{host}{f':{port}' if port else ''}"
    return DagsterEndpoint(
        host=host, port=port, use_https=use_https,
        location=str(extra.get("location", "ecommerce_assets")),
        ui_url=str(extra.get("ui_url", default_ui)),
        auth=(conn.login, conn.password) if conn.login else None,
    )


def check_partition_key(value: str) -> str:
    if not PARTITION_KEY.match(value or ""):
        raise ValueError(f"partition key must be YYYY-MM-DD (Airflow's ds), got {value!r}; "
                         "a run without a logical date has no ds")
    return value
