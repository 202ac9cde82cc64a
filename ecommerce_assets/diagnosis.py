"""Failures said for a person: configuration errors of PostgreSQL and S3 as a line that names the variable
and the fix, and Dagster's wrapped errors unwrapped to the cause the project raised."""

import re

import psycopg
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)
from dagster._utils.error import SerializableErrorInfo
from psycopg.conninfo import conninfo_to_dict

from ecommerce_assets.redaction import redact_text


class SetupProblem(Exception):
    """A configuration a command cannot start with; the message is meant for the terminal as it is."""


def root_cause(error: SerializableErrorInfo) -> SerializableErrorInfo:
    """The first error that is not Dagster's wrapper (the asset's own exception, the fetch error an IO
    manager carried): Dagster chains user errors as the `cause` of its step-execution errors."""
    while (error.cls_name or "").startswith("Dagster") and error.cause is not None:
        error = error.cause
    return error


def describe_error(error: SerializableErrorInfo) -> str:
    """`Class: message` of the root cause, one message, no stack."""
    cause = root_cause(error)
    message = cause.message.strip()
    if cause.cls_name:  # Dagster's messages repeat the (qualified) class name
        message = re.sub(rf"^([\w.]*\.)?{re.escape(cause.cls_name)}:\s*", "", message)
    # the project's own failures (a gate, a refusal, a transient fault past its retries) say it all themselves
    return message if cause.cls_name in (None, "Failure", "StepRetriesSpent") else f"{cause.cls_name}: {message}"


def _server(dsn: str) -> tuple[str, str, str]:
    """(host:port, user, database) named in a libpq URL or key=value string, password left out."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "?", "?", "?"
    host = str(parts.get("host") or "localhost")
    return f"{host}:{parts.get('port') or 5432}", str(parts.get("user") or "?"), str(parts.get("dbname") or "?")


def postgres_problem(error: psycopg.Error, variable: str, dsn: str, embedded_hint: str = "") -> str:
    """One or two lines for a connection `error` to the server that `variable` (= `dsn`) names."""
    text = str(error)
    server, user, database = _server(dsn)
    reason = re.sub(r"^connection failed: |^connection is bad: ", "", text.split("\n", maxsplit=1)[0]).strip()
    reason = re.sub(r'^connection to server at "[^"]*", port \d+ failed: (FATAL:\s+)?', "", reason)
    if isinstance(error, psycopg.ProgrammingError) or ("invalid" in reason and "port" in reason):
        fix = f"{variable} must be a libpq URL such as postgresql://user@host:5432/database"
    elif "password authentication failed" in text or "no password supplied" in text:
        fix = f"fix the password in {variable} (or leave it out of the URL and set PGPASSWORD)"
    elif "does not exist" in text and "database" in text:
        host, _, port = server.rpartition(":")
        fix = f"create it (createdb -h {host} -p {port} -U {user} {database}) or name an existing one in {variable}"
    elif "role" in text and "does not exist" in text:
        fix = f"create the login {user} or name an existing one in {variable}"
    elif "Connection refused" in text or "resolve host" in text or "timeout" in text.lower():
        fix = f"start PostgreSQL or fix the host and port in {variable}"
    else:
        fix = f"check {variable}"
    return redact_text(f"{variable}: PostgreSQL at {server} (user {user}, database {database}) refused the "
                       f"connection: {reason}\n  → {fix}{embedded_hint}")


def s3_problem(error: Exception, endpoint: str | None, bucket: str, embedded_hint: str = "") -> str | None:
    """One or two lines for an S3 `error` that configuration explains, or None for any other error."""
    where = f"S3 at {endpoint} (ECOM_S3_ENDPOINT_URL)" if endpoint else "AWS S3 (ECOM_S3_ENDPOINT_URL unset)"
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return (f"{where}: no credentials\n  → set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                f"(or an AWS profile){embedded_hint}")
    if isinstance(error, EndpointConnectionError):
        return f"{where}: nothing answers\n  → start the S3 server or fix ECOM_S3_ENDPOINT_URL{embedded_hint}"
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "AccessDenied") or status == 403:
            return (f"{where} refused the credentials for bucket {bucket} ({code or status})\n"
                    f"  → check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the key's policy on the bucket")
        if code in ("NoSuchBucket", "404") or status == 404:
            return f"{where}: bucket {bucket} does not exist\n  → create it: ecommerce-deploy init-lake (ECOM_S3_BUCKET)"
    return None
