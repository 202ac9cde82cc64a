"""Talking to Dagster's webserver: dagster-graphql's client for runs, two read-only queries it lacks,
and retries on transient errors (webserver restarting, 5xx, connection refused)."""

import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

T = TypeVar("T")
PARTITION_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

# dagster-graphql's client submits, polls and terminates runs but cannot look up materializations or
# runs by tag, nor read a failed run's errors: these read-only queries fill the gap.
_IN_FLIGHT_RUNS = """
fragment PartitionRuns on Query {
  runsOrError(filter: {tags: [{key: "dagster/partition", value: $tag}], statuses: [QUEUED, NOT_STARTED, STARTING, STARTED]}) {
    ... on Runs { results { runId status creationTime tags { key value } assets { key { path } } } }
  }
}
"""
_PARTITION_STATE = """
query PartitionState($asset: AssetKeyInput!, $upstream: AssetKeyInput!, $partition: String!, $tag: String!) {
  asset: assetOrError(assetKey: $asset) { ... on Asset { assetMaterializations(partitions: [$partition], limit: 1) { runId timestamp } } }
  upstream: assetOrError(assetKey: $upstream) { ... on Asset { assetMaterializations(partitions: [$partition], limit: 1) { runId timestamp } } }
  ...PartitionRuns
}
""" + _IN_FLIGHT_RUNS
_PARTITION_RUNS = """
query PartitionRuns($tag: String!) { ...PartitionRuns }
""" + _IN_FLIGHT_RUNS
_RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    ... on Run { runId status creationTime tags { key value } assets { key { path } } }
    ... on RunNotFoundError { message }
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


WAITING = {"QUEUED", "NOT_STARTED"}      # in the run queue: cancelled before anything ran


@dataclass(frozen=True)
class PartitionRun:
    """A Dagster run of one partition: when and by whom it was submitted, what it builds."""

    run_id: str
    status: str
    created: float
    assets: frozenset[str]
    tags: dict[str, str]

    @classmethod
    def parse(cls, run: dict[str, Any]) -> "PartitionRun":
        return cls(run_id=str(run["runId"]), status=str(run["status"]), created=float(run["creationTime"]),
                   assets=frozenset("/".join(asset["key"]["path"]) for asset in run.get("assets") or []),
                   tags={tag["key"]: tag["value"] for tag in run.get("tags") or []})

    @property
    def order(self) -> tuple[float, str]:
        """When it was submitted (the run id breaks a tie, so every observer names the same first run)."""
        return self.created, self.run_id

    def first(self, other: "PartitionRun") -> bool:
        """Submitted before `other`."""
        return self.order < other.order

    def gives_way_to(self, other: "PartitionRun") -> bool:
        """`other` builds all this run builds, and was submitted first or builds more."""
        return other is not self and other.assets >= self.assets and (other.first(self) or other.assets > self.assets)

    @property
    def submitter(self) -> str:
        if "airflow/dag_id" in self.tags:
            return f"Airflow DAG {self.tags['airflow/dag_id']}"
        if "dagster/sensor_name" in self.tags:
            return f"Dagster sensor {self.tags['dagster/sensor_name']}"
        if "dagster/backfill" in self.tags:
            return f"Dagster backfill {self.tags['dagster/backfill']}"
        return "Dagster"


@dataclass(frozen=True)
class Settlement:
    """Which run of an asset partition is waited for once two submitters met: `run_id`, with the runs
    cancelled as duplicates (ours among them when another came first), each with a line for the log."""

    run_id: str
    cancelled: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


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

    def partition_state(self, asset: str, upstream: str, partition: str) -> PartitionState:
        data = self.query(_PARTITION_STATE, {"asset": {"path": [asset]}, "upstream": {"path": [upstream]},
                                             "partition": partition, "tag": partition})
        own = (data.get("asset") or {}).get("assetMaterializations") or []
        up = (data.get("upstream") or {}).get("assetMaterializations") or []
        materialized_by = None
        if own and (not up or float(own[0]["timestamp"]) >= float(up[0]["timestamp"])):
            materialized_by = str(own[0]["runId"])
        in_flight = next((run.run_id for run in _targeting(data, asset)), None)
        return PartitionState(materialized_by=materialized_by, in_flight_run=in_flight)

    def in_flight(self, asset: str, partition: str) -> list[PartitionRun]:
        """The queued and running runs of `partition` whose selection holds `asset`."""
        return _targeting(self.query(_PARTITION_RUNS, {"tag": partition}), asset)

    def settle(self, asset: str, partition: str, ours: str) -> Settlement:
        """One run per asset partition when we submitted `ours` as another submitter (Dagster's automation, a
        backfill, another Airflow run) submitted one of its own: both looked, saw none, and submitted.

        A run gives way to another that builds all it builds and was submitted first or builds more: ours is
        cancelled while still queued and that run is awaited; runs that give way to ours are cancelled while
        queued. Every submitter that settles judges the same way, so two Airflow runs of one day agree. If ours
        has been cancelled, a run it gives way to is awaited. Runs that have left the queue are left to end (the
        assets' writes are idempotent), and the notes say so."""
        runs = self.in_flight(asset, partition)
        listed = next((run for run in runs if run.run_id == ours), None)
        mine = listed or self.run(ours)  # not listed: ours has ended
        winner = _first([run for run in runs if mine.gives_way_to(run)])
        if listed is None:
            if mine.status == "CANCELED" and winner is not None:
                return Settlement(winner.run_id, notes=(
                    f"run {ours} was cancelled; run {winner.run_id} ({winner.submitter}), which builds {asset} "
                    f"{partition}{_why(winner, mine)}, is queued or running: waiting for {winner.run_id}",))
            return Settlement(ours)
        if winner is not None:
            if mine.status not in WAITING or not self._cancel(ours):
                return Settlement(ours, notes=(
                    f"run {winner.run_id} ({winner.submitter}) builds {asset} {partition} too{_why(winner, mine)}; "
                    "ours had left the queue, so both run",))
            return Settlement(winner.run_id, (ours,), (
                f"run {winner.run_id} ({winner.submitter}) builds {asset} {partition} too{_why(winner, mine)}: "
                f"cancelled ours ({ours}) before it started, waiting for {winner.run_id}",))
        cancelled, notes = [], []
        for run in runs:
            if run is mine or not run.gives_way_to(mine):
                continue
            if run.status in WAITING and self._cancel(run.run_id):
                cancelled.append(run.run_id)
                notes.append(f"cancelled run {run.run_id} ({run.submitter}) before it started: ours builds "
                             f"{asset} {partition} too{_why(mine, run)}")
            else:
                notes.append(f"ours and run {run.run_id} ({run.submitter}) both build {asset} {partition}; it "
                             "had left the queue before it could be cancelled, so both run")
        return Settlement(ours, tuple(cancelled), tuple(notes))

    def run(self, run_id: str) -> PartitionRun:
        data = self.query(_RUN, {"runId": run_id})["runOrError"]
        if "runId" not in data:
            raise RuntimeError(f"Dagster has no run {run_id}: {data.get('message', data)}")
        return PartitionRun.parse(data)

    def _cancel(self, run_id: str) -> bool:
        """Cancel a queued run; False if it had left the queue first (started, or ended)."""
        with suppress(DagsterGraphQLClientError):  # not cancellable any more: its status says why
            self.terminate(run_id)
        return self.status(run_id) == "CANCELED"

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


def _why(winner: PartitionRun, loser: PartitionRun) -> str:
    """Why `loser` gives way to `winner`, as the end of a sentence about `winner`."""
    more = sorted(winner.assets - loser.assets)
    if more:
        named = ", ".join(more[:3]) + (f" and {len(more) - 3} more" if len(more) > 3 else "")
        return f" and more ({named})"
    return f", submitted {loser.created - winner.created:.1f} s earlier"


def _first(runs: list[PartitionRun]) -> PartitionRun | None:
    return min(runs, key=lambda run: run.order, default=None)


def _targeting(data: dict[str, Any], asset: str) -> list[PartitionRun]:
    runs = [PartitionRun.parse(run) for run in (data.get("runsOrError") or {}).get("results") or []]
    return [run for run in runs if asset in run.assets]


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
