"""One classification of failures: the real exceptions the drivers raise (a closed port on loopback, a catalog
server that answers 503, errors built the way the drivers build them), as live exceptions and as the
serialized errors Dagster stores."""

import socket
import sys
from collections.abc import Callable, Iterator

import boto3
import botocore.config
import psycopg
import pyarrow.fs as pafs
import pytest
import requests
from botocore.exceptions import ClientError
from dagster import Failure
from dagster._core.errors import DagsterExecutionStepExecutionError
from dagster._utils.error import serializable_error_info_from_exc_info

from ecommerce_assets.failure_classes import classify
from ecommerce_assets.lake.objects import UnreadableObject
from ecommerce_assets.resources.catalog_api import CatalogApiResource, CatalogFetchError
from ecommerce_assets.retries import StepRetriesSpent, stop_or_retry
from ecommerce_assets.settings import SettingError
from ecommerce_assets.warehouse.migrations import SchemaNotCurrent
from ecommerce_catalog_server import CatalogServer, Fault, FaultPlan, GeneratedCatalog

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def raised(action: Callable[[], object]) -> BaseException:
    try:
        action()
    except BaseException as error:  # the error is what the test is about
        return error
    raise AssertionError("nothing was raised")


def wrapped_by_dagster(error: BaseException) -> object:
    """The error as a step failure stores it: Dagster's step error with `error` as its cause, serialized."""
    try:
        try:
            raise error
        except BaseException as inner:
            raise DagsterExecutionStepExecutionError("Error occurred while executing op", user_exception=inner,
                                                     original_exc_info=sys.exc_info(), step_key="s",
                                                     op_name="s", op_def_name="s") from inner
    except DagsterExecutionStepExecutionError:
        return serializable_error_info_from_exc_info(sys.exc_info())


def psycopg_refused(port: int) -> BaseException:
    return raised(lambda: psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/x", connect_timeout=2))


def adbc_refused(port: int) -> BaseException:
    import adbc_driver_postgresql.dbapi as adbc

    return raised(lambda: adbc.connect(f"postgresql://postgres@127.0.0.1:{port}/x"))


def boto_refused(port: int) -> BaseException:
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="a",
                          aws_secret_access_key="b", region_name="us-east-1",
                          config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=1))
    return raised(lambda: client.head_object(Bucket="b", Key="k"))


def arrow_refused(port: int) -> BaseException:
    fs = pafs.S3FileSystem(endpoint_override=f"http://127.0.0.1:{port}", access_key="a", secret_key="b",
                           region="us-east-1", retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
                           connect_timeout=1, request_timeout=1)
    return raised(lambda: fs.open_input_stream("bucket/key"))


def duckdb_stream_refused(port: int) -> BaseException:
    """DuckDB reading a stream of the warehouse's rows (as the mart reads a day), the warehouse gone: DuckDB
    carries the driver's error in its own, as text."""
    import duckdb
    import pyarrow as pa

    schema = pa.schema([("product_id", pa.int64())])

    def rows() -> Iterator[pa.RecordBatch]:
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/x", connect_timeout=2)
        yield pa.record_batch([[1]], schema=schema)

    con = duckdb.connect()
    con.register("ods_products", pa.RecordBatchReader.from_batches(schema, rows()))
    return raised(lambda: con.execute("SELECT count(*) FROM ods_products").fetchall())


def requests_refused(port: int) -> BaseException:
    return raised(lambda: requests.get(f"http://127.0.0.1:{port}/products", timeout=2))


@pytest.mark.parametrize(("make", "cause"), [
    (psycopg_refused, "warehouse unreachable (connection refused)"),
    (adbc_refused, "warehouse unreachable (connection refused)"),
    (boto_refused, "lake (S3) unreachable"),
    (arrow_refused, "lake (S3) unreachable (connection refused)"),
    (requests_refused, "a service unreachable (connection refused)"),
    (duckdb_stream_refused, "warehouse unreachable (connection refused)"),
], ids=["psycopg", "adbc", "botocore", "pyarrow-s3", "requests", "duckdb-stream"])
def test_a_service_that_does_not_answer_is_transient(closed_port: int, make: Callable[[int], BaseException],
                                                     cause: str) -> None:
    error = make(closed_port)
    for seen in (error, wrapped_by_dagster(error)):
        verdict = classify(seen)  # type: ignore[arg-type]
        assert (verdict.kind, verdict.rerun) == ("transient", True), (type(error), error)
        assert verdict.cause.startswith(cause), verdict.cause


@pytest.mark.parametrize(("error", "cause"), [
    (psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
     "warehouse unreachable (server shut down)"),
    (psycopg.errors.CannotConnectNow("the database system is starting up"),
     "warehouse unreachable (server starting up)"),
    (psycopg.errors.CannotConnectNow("the database system is in recovery mode"),
     "warehouse unreachable (server in recovery)"),
    (psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"),
     "warehouse unreachable (connection closed)"),
    (ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                  "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject"),
     "the lake (S3) is overloaded or failing"),
    (ClientError({"Error": {"Code": "InternalError", "Message": "We encountered an internal error."},
                  "ResponseMetadata": {"HTTPStatusCode": 500}}, "GetObject"),
     "the lake (S3) is overloaded or failing"),
], ids=["admin-shutdown", "starting-up", "in-recovery", "closed", "s3-slowdown", "s3-internal"])
def test_a_server_restarting_or_overloaded_is_transient(error: BaseException, cause: str) -> None:
    verdict = classify(error)
    assert (verdict.kind, verdict.rerun) == ("transient", True)
    assert verdict.cause.startswith(cause), verdict.cause


@pytest.fixture
def unavailable_api() -> Iterator[CatalogServer]:
    with CatalogServer(GeneratedCatalog(size=30, seed=1), faults=FaultPlan(every={1: Fault("status", status=503)})) as server:
        yield server


def test_an_api_answering_503_past_its_retries_is_transient(unavailable_api: CatalogServer) -> None:
    client = CatalogApiResource(base_url=unavailable_api.url, max_retries=1, backoff_factor=0.01).client()
    # every answer is 503: no page is ever parsed
    error = raised(lambda: list(client.iter_pages("products", new_parser=lambda: None)))  # type: ignore[arg-type,return-value]
    assert isinstance(error, CatalogFetchError)
    verdict = classify(wrapped_by_dagster(error))  # type: ignore[arg-type]
    assert (verdict.kind, verdict.rerun, verdict.cause) == ("transient", True, "the API answered HTTP 503")


def test_a_torn_snapshot_is_retried_in_the_step_but_no_run_is_repeated_for_it() -> None:
    verdict = classify(CatalogFetchError("page at skip=100 reports total=201, the first reported 200: the catalog "
                                         "moved while being read; not storing a torn snapshot"))
    assert (verdict.kind, verdict.rerun) == ("transient", False)


@pytest.mark.parametrize("error", [
    Failure(description="rejected share 0.50 above 0.05: the day is blocked"),
    SchemaNotCurrent("the warehouse schema is not current: 0007_sales is not applied"),
    SettingError("ECOM_STEP_RETRIES='x' is not a whole number (default 5)"),
    UnreadableObject("s3://b/raw/products/snapshot_date=2026-12-05/products.parquet is not Parquet"),
    CatalogFetchError("GET http://api/products?limit=100&skip=0: HTTP 404"),
    CatalogFetchError("GET http://api/products: response of 999999999 bytes exceeds the 1000-byte limit"),
    psycopg.OperationalError('connection to server at "127.0.0.1", port 5432 failed: FATAL:  password '
                             'authentication failed for user "etl"'),
    psycopg.OperationalError('connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "nope" '
                             'does not exist'),
    ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                 "ResponseMetadata": {"HTTPStatusCode": 403}}, "PutObject"),
    ValueError("something nobody expected"),
], ids=["gate", "schema", "setting", "unreadable", "http-404", "too-large", "password", "no-database",
        "s3-denied", "unknown"])
def test_what_retrying_cannot_change_is_permanent(error: BaseException) -> None:
    for seen in (error, wrapped_by_dagster(error)):
        assert classify(seen).kind == "permanent", error  # type: ignore[arg-type]


def test_a_permanent_error_stops_the_step_and_a_transient_one_is_left_to_dagsters_retry(
        closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOM_STEP_RETRIES", "5")  # the platform's default (the suite turns them off)
    refused = psycopg_refused(closed_port)
    assert stop_or_retry(refused, retries_made=0) is refused  # Dagster's RetryPolicy retries it
    spent = stop_or_retry(refused, retries_made=5)
    assert isinstance(spent, StepRetriesSpent) and not spent.allow_retries
    assert str(spent.description).startswith("warehouse unreachable (connection refused) (still after 5 retries) — "
                                             "OperationalError: connection failed: ")
    # the step stops, the fault stays transient: heal_sensor runs the day again later
    assert (classify(spent).kind, classify(spent).rerun) == ("transient", True)
    assert classify(wrapped_by_dagster(spent)).transient  # type: ignore[arg-type]
    wrong = stop_or_retry(ValueError("bad"), retries_made=0)
    assert isinstance(wrong, Failure) and not wrong.allow_retries and wrong.description == "ValueError: bad"
    monkeypatch.setenv("ECOM_STEP_RETRIES", "0")
    off = stop_or_retry(refused, retries_made=0)
    assert isinstance(off, StepRetriesSpent) and "(step retries are off: ECOM_STEP_RETRIES=0)" in str(off.description)
    gate = Failure(description="the gate says no")
    assert stop_or_retry(gate, retries_made=0) is gate and gate.allow_retries is False

