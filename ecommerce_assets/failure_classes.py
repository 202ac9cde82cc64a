"""Which failures heal by themselves: one classification of every error a step or a run can end with, for the
step retries (`retries.py`), the run re-requests and the alerts (`sensors.py`) and the local runner.

*Transient*: the service was away or overloaded — PostgreSQL, S3 or the API refused or dropped the connection,
timed out, answered 5xx/429 past the HTTP retries, was shutting down or in recovery; a run worker or Celery
worker that died. Such a step is retried, and a run that still fails on one is run again later.
*Permanent*: retrying cannot change it — a gate or blocking check, a refusal the pipeline made on purpose (a
shrink, a late fetch, another source's snapshot), a schema not current, a configuration error, and anything
not known to be transient. It stops at once and is alerted at once.

A torn snapshot (the catalog moved while being read) is transient for the step — the next read may be whole —
but a run that ends on one is not run again: a catalog that stays torn needs a person.

Works alike on a live exception (in the step) and on Dagster's serialized error (in a sensor): both are read as
the chain of (class name, message) of the error and its causes."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from dagster._utils.error import SerializableErrorInfo

Kind = Literal["transient", "permanent"]


@dataclass(frozen=True)
class Verdict:
    """`kind`; `cause`: what happened, for a person, in a few words; `rerun`: a run that ended on it is run
    again later (transient faults but a torn snapshot)."""

    kind: Kind
    cause: str
    rerun: bool

    @property
    def transient(self) -> bool:
        return self.kind == "transient"


# DuckDB's errors around one a Python input stream raised (the mart reading a day from the warehouse): the
# stream's error reaches them as text — its traceback's last line, `module.Class: message` — not as a cause
_DUCKDB_CARRIERS = {"InvalidInputException", "IOException"}
_CARRIED = re.compile(r"Python exception: Traceback.*^([A-Za-z_][\w.]*): (.*)\Z", re.S | re.M)


def _chain(error: BaseException | SerializableErrorInfo) -> Iterator[tuple[str, str]]:
    """(class name, message) of the error, then of its causes and contexts, outermost first; after an error of
    DuckDB's around one a Python input stream raised, that one (carried in its text, not as a cause)."""
    seen: set[int] = set()
    pending: list[BaseException | SerializableErrorInfo | None] = [error]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, SerializableErrorInfo):
            name, message = current.cls_name or "", current.message
            pending.extend([current.cause, current.context])
        else:
            name, message = type(current).__name__, str(current)
            pending.extend([current.__cause__, current.__context__])
        yield name, message
        if name in _DUCKDB_CARRIERS and (carried := _CARRIED.search(message)):
            yield carried.group(1).rsplit(".", 1)[-1], carried.group(2)


def _first_line(message: str) -> str:
    line = message.strip().split("\n", maxsplit=1)[0]
    return re.sub(r"^[\w.]+(Error|Exception|Failure|Shutdown|Now): ", "", line)[:200]


_PG_CONFIGURATION = re.compile(r"password authentication failed|no password supplied|does not exist|"
                               r"invalid (dsn|connection option|port)|permission denied", re.I)
_NETWORK = re.compile(r"connection refused|could not connect|couldn't connect|connection (reset|aborted|closed)|"
                      r"server closed the connection|broken pipe|timed? ?out|temporary failure in name resolution|"
                      r"network is unreachable|no route to host|unable to connect|network_connection|"
                      r"curl(code)?:? ?(6|7|28|52|55|56)\b|connection was forcibly closed|eof occurred", re.I)
_PG_TRANSIENT = re.compile(r"terminating connection|the database system is (starting up|shutting down|"
                           r"in recovery mode|not yet accepting)|server closed the connection unexpectedly|"
                           r"consuming input failed|the connection is (closed|lost)|connection to server .* failed|"
                           r"could not receive data|could not send data|deadlock detected|"
                           r"could not serialize access", re.I)
_HTTP_STATUS = re.compile(r"(?:HTTP |too many )(\d{3})")
_S3_TRANSIENT = re.compile(r"\b(5\d\d|SlowDown|SLOW_DOWN|ServiceUnavailable|SERVICE_UNAVAILABLE|InternalError|"
                           r"INTERNAL_FAILURE|RequestTimeout|REQUEST_TIMEOUT|ThrottlingException|THROTTLING)\b")
_TORN = re.compile(r"torn snapshot|moved while being read")

_PG_CLASSES = {"OperationalError", "InterfaceError", "AdminShutdown", "CannotConnectNow", "CrashShutdown",
               "ConnectionFailure", "ConnectionException", "SqlclientUnableToEstablishSqlconnection",
               "SerializationFailure", "DeadlockDetected", "IdleSessionTimeout", "DatabaseShutdown"}
_S3_CLASSES = {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
               "ProxyConnectionError", "ResponseStreamingError", "IncompleteReadError"}
_HTTP_CLASSES = {"ConnectionError", "Timeout", "ConnectTimeout", "ReadTimeout", "ChunkedEncodingError",
                 "MaxRetryError", "NewConnectionError", "ProtocolError", "RemoteDisconnected"}
_NETWORK_CLASSES = {"ConnectionRefusedError", "ConnectionResetError", "ConnectionAbortedError", "BrokenPipeError",
                    "TimeoutError", "timeout", "gaierror"}
_WORKER_CLASSES = {"WorkerLostError", "DeadRun"}

_STOPS_ON_PURPOSE = {"Failure", "DagsterAssetCheckFailedError", "SchemaNotCurrent", "SettingError", "SetupProblem",
                     "UnreadableObject", "PartitionAbsent", "SnapshotAbsent", "PageShapeError",
                     "DagsterExecutionInterruptedError", "KeyboardInterrupt", "DagsterInvalidConfigError"}


def _verdict(name: str, message: str) -> Verdict | None:
    """The verdict one link of the chain gives, or None when it says nothing either way."""
    line = _first_line(message)
    if name in _STOPS_ON_PURPOSE:
        return Verdict("permanent", line or name, rerun=False)
    if name == "CatalogFetchError":
        if _TORN.search(message):
            return Verdict("transient", f"the API's catalog moved while being read ({line})", rerun=False)
        status = _HTTP_STATUS.search(message)
        if status and (int(status.group(1)) >= 500 or status.group(1) == "429"):
            return Verdict("transient", f"the API answered HTTP {status.group(1)}", rerun=True)
        if "gave up after" in message and _NETWORK.search(message):
            return Verdict("transient", f"the API is unreachable ({_what(message)})", rerun=True)
        if "gave up after" in message or "cut short" in message or "not JSON" in message:
            return Verdict("transient", f"the API's answers broke off ({line})", rerun=True)
        return None  # what the API sent is wrong: a cause further down, or permanent
    if name in _PG_CLASSES or (name.startswith("ProgrammingError") and "connection" in message.lower()):
        if _PG_CONFIGURATION.search(message):
            return Verdict("permanent", f"PostgreSQL refused the login or database ({line})", rerun=False)
        if name != "OperationalError" or _PG_TRANSIENT.search(message) or _NETWORK.search(message):
            return Verdict("transient", f"warehouse unreachable ({_what(message)})", rerun=True)
        return None
    if name in _S3_CLASSES:
        return Verdict("transient", f"lake (S3) unreachable ({_what(message)})", rerun=True)
    if name == "ClientError" and _S3_TRANSIENT.search(message):
        return Verdict("transient", f"the lake (S3) is overloaded or failing ({line})", rerun=True)
    if name in _WORKER_CLASSES:
        return Verdict("transient", f"the worker running the step died ({line})", rerun=True)
    if name in _HTTP_CLASSES | _NETWORK_CLASSES or (name in ("OSError", "ArrowIOError", "IOError") and
                                                     _NETWORK.search(message)):
        where = "lake (S3)" if re.search(r"aws|s3|curl", message, re.I) else "a service"
        return Verdict("transient", f"{where} unreachable ({_what(message)})", rerun=True)
    if name in ("OSError", "ArrowIOError") and _S3_TRANSIENT.search(message) and re.search(r"aws|s3", message, re.I):
        return Verdict("transient", f"the lake (S3) is overloaded or failing ({line})", rerun=True)
    return None


def _what(message: str) -> str:
    """The network condition in two or three words."""
    lowered = message.lower()
    for needle, said in (("refused", "connection refused"), ("reset", "connection reset"),
                         ("terminating connection", "server shut down"), ("starting up", "server starting up"),
                         ("shutting down", "server shutting down"), ("recovery", "server in recovery"),
                         ("closed the connection", "connection closed"), ("timed out", "timed out"),
                         ("timeout", "timed out"), ("name resolution", "name not resolved"),
                         ("couldn't connect", "connection refused"), ("could not connect", "connection refused"),
                         ("unable to connect", "connection refused"), ("broken pipe", "connection broken")):
        if needle in lowered:
            return said
    return _first_line(message)[:80] or "connection lost"


def classify(error: BaseException | SerializableErrorInfo) -> Verdict:
    """The verdict of the first link of the chain that has one (Dagster's wrappers say nothing; the error the
    project or a driver raised does); permanent when no link is known to be transient."""
    first = ""
    for name, message in _chain(error):
        if name.startswith("Dagster") and name not in _STOPS_ON_PURPOSE:
            continue  # Dagster's wrapper around the error that happened
        first = first or _first_line(message) or name
        verdict = _verdict(name, message)
        if verdict is not None:
            return verdict
    return Verdict("permanent", first or "an unknown error", rerun=False)
