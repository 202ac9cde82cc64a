"""Checks made before a run starts: each failure is a `SetupProblem` of one or two lines naming the flag
or variable at fault and the fix, so that configuration mistakes never surface as a failed run."""

from datetime import date, timedelta

import psycopg
import requests
from botocore.exceptions import BotoCoreError, ClientError

from ecommerce_assets.diagnosis import SetupProblem, postgres_problem, s3_problem
from ecommerce_assets.dsn import same_database
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.partitions import PARTITIONS_START

API_TIMEOUT_SECONDS = 8.0
OFFLINE_HINT = "\n  → without internet, run with --offline: the bundled catalog server stands in for the API"


def partition_date(text: str, today: date) -> date:
    """The `--date` value as a partition that exists: a past UTC day since the partitions' start."""
    try:
        day = date.fromisoformat(text)
    except ValueError as error:
        raise SetupProblem(f"--date {text}: not a date ({error}); use YYYY-MM-DD, e.g. --date "
                           f"{today - timedelta(days=1)}") from None
    first = date.fromisoformat(PARTITIONS_START)
    if day >= today:
        raise SetupProblem(f"--date {day}: {'today' if day == today else 'a future day'} (UTC, today is {today}) has "
                           f"no partition yet — a day is a partition once it has ended\n"
                           f"  → the latest is --date {today - timedelta(days=1)} (the default)")
    if day < first:
        raise SetupProblem(f"--date {day}: before the first partition\n  → pick a day from {first} to "
                           f"{today - timedelta(days=1)}")
    return day


def check_postgres(dsn: str, variable: str, embedded_hint: str = "") -> None:
    """Connect once with a short timeout; a refusal becomes a SetupProblem naming `variable`."""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        raise SetupProblem(postgres_problem(error, variable, dsn, embedded_hint)) from None


def check_separate_databases(warehouse_dsn: str, dagster_url: str) -> None:
    if same_database(warehouse_dsn, dagster_url):
        raise SetupProblem("DAGSTER_PG_URL names the warehouse database of ECOM_PG_DSN: Dagster's run history "
                           "would be written among the warehouse's tables\n"
                           "  → point DAGSTER_PG_URL at a database of its own (e.g. …/dagster), or unset it")


def check_lake(configured: LakeResource, embedded_hint: str = "") -> None:
    """The lake's bucket answers with the configured credentials (created when missing and allowed), asked
    once with short timeouts rather than with the retries a run uses."""
    lake = LakeResource(bucket=configured.bucket, endpoint_url=configured.endpoint_url, region_name=configured.region_name,
                        aws_access_key_id=configured.aws_access_key_id,
                        aws_secret_access_key=configured.aws_secret_access_key,
                        max_attempts=1, connect_timeout_seconds=3, read_timeout_seconds=10)
    try:
        lake.ensure_bucket()
        lake.get_client().list_objects_v2(Bucket=lake.bucket, MaxKeys=1)
    except (BotoCoreError, ClientError) as error:
        problem = s3_problem(error, lake.endpoint_url, lake.bucket, embedded_hint)
        if problem is None:
            raise
        raise SetupProblem(problem) from None


def check_api(base_url: str, timeout: float = API_TIMEOUT_SECONDS) -> None:
    """One request for one product, no retries: an API that does not answer fails here within `timeout`."""
    url = f"{base_url.rstrip('/')}/products"
    where = f"catalog API {base_url} (ECOM_API_BASE_URL)"
    try:
        response = requests.get(url, params={"limit": "1", "select": "id"}, timeout=(timeout / 2, timeout / 2))
    except requests.exceptions.ConnectionError as error:
        text = str(error)
        reason = ("its host name does not resolve" if "resolve" in text or "Name or service" in text
                  else "the connection was refused" if "refused" in text.lower() else "it cannot be reached")
        raise SetupProblem(f"{where}: {reason}{OFFLINE_HINT}") from None
    except requests.exceptions.Timeout:
        raise SetupProblem(f"{where}: no answer within {timeout:.0f} s{OFFLINE_HINT}") from None
    if response.status_code != 200:
        raise SetupProblem(f"{where}: GET /products answered HTTP {response.status_code}{OFFLINE_HINT}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "products" not in body:
        raise SetupProblem(f"{where}: GET /products did not answer a DummyJSON catalog page{OFFLINE_HINT}")
