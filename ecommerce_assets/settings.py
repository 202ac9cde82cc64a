"""Every setting the pipeline takes from the environment: its variable, its default and what it means.

The resources hold these as typed fields. Ordinary settings are read once, when the code location loads,
so the Deployment → Resources page of the UI shows the value in effect; secrets are wired as `EnvVar`,
which Dagster resolves when a run starts and the UI shows by name only. `.env.example` and the README's
configuration table are checked against this list by a test.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from dagster import EnvVar


@dataclass(frozen=True)
class Setting:
    variable: str
    default: str  # "" = unset: the field is None
    meaning: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("ECOM_API_BASE_URL", "https://dummyjson.com", "shop API root (DummyJSON shape)"),
    Setting("ECOM_API_SOURCE_NAME", "", "how raw snapshots name their source (provenance); unset: the base URL"),
    Setting("ECOM_API_PAGE_SIZE", "100", "records per request"),
    Setting("ECOM_API_MAX_RECORDS", "5000000", "largest catalog accepted before the fetch fails"),
    Setting("ECOM_API_CONCURRENCY", "1", "requests in flight at once (1 for the public API's rate limit)"),
    Setting("ECOM_S3_BUCKET", "ecommerce-lake", "lake bucket"),
    Setting("ECOM_S3_ENDPOINT_URL", "", "S3 endpoint (MinIO, local); unset = AWS"),
    Setting("AWS_REGION", "us-east-1", "S3 region"),
    Setting("ECOM_PG_DSN", "", "warehouse PostgreSQL, libpq URL", secret=True),
    Setting("ECOM_ALERT_WEBHOOK_URL", "", "where failed runs are posted (JSON); unset: only logged", secret=True),
    Setting("ECOM_PII_KEY", "", "HMAC-SHA256 key of customer keys (e-mail addresses hashed); unset: users not fetched",
            secret=True),
    Setting("ECOM_MAX_REJECTED_SHARE", "0.05", "rejected share above which the mart refuses the day"),
    Setting("ECOM_MAX_CATALOG_SHRINK", "0.5", "day-over-day shrink above which the mart refuses the day"),
    Setting("ECOM_EXECUTOR", "in_process", "where a run's steps execute: in_process, multiprocess or celery"),
    Setting("ECOM_CELERY_BROKER_URL", "", "Celery broker, required with ECOM_EXECUTOR=celery", secret=True),
    Setting("ECOM_CELERY_BACKEND_URL", "", "Celery result backend, required with ECOM_EXECUTOR=celery", secret=True),
    Setting("ECOM_DUCKDB_MEMORY_LIMIT", "256MB", "memory DuckDB may use per transform before spilling to disk"),
    Setting("ECOM_ODS_RETENTION_DAYS", "0", "ODS snapshot days kept in PostgreSQL (older ones dropped); 0 = all"),
    Setting("ECOM_STEP_RETRIES", "5", "retries of a step after a transient fault (5 s, doubling, ±50% jitter); 0 = off"),
    Setting("ECOM_HEAL_WINDOW", "6.0", "hours a day failed on a transient fault is run again (growing delays); 0 = off"),
    Setting("ECOM_HEAL_FIRST_DELAY", "2.0", "minutes before a failed day's first re-run (then doubling, at most 60)"),
    Setting("ECOM_SENSOR_INTERVAL_SCALE", "1.0", "multiplies every sensor's interval (automation 15 s, heal 30 s, "
            "freshness 10 min …); at least 5 s"),
    Setting("ECOM_DM_DEADLINE", "09:00", "when yesterday's mart must exist (HH:MM)"),
    Setting("ECOM_DM_DEADLINE_TZ", "Europe/Moscow", "the time zone of that deadline"),
)
BY_VARIABLE = {setting.variable: setting for setting in SETTINGS}
T = TypeVar("T")


class SettingError(ValueError):
    """A variable whose value cannot be what it configures."""


def text(variable: str) -> str:
    """The variable's value, else its default."""
    setting = BY_VARIABLE[variable]
    if setting.secret:
        raise SettingError(f"{variable} is a secret: wire it with secret(), never as a value")
    return os.environ.get(variable) or setting.default


def optional_text(variable: str) -> str | None:
    return text(variable) or None


def _parsed(variable: str, convert: Callable[[str], T], kind: str) -> T:
    raw = text(variable)
    try:
        return convert(raw)
    except ValueError:
        raise SettingError(f"{variable}={raw!r} is not {kind} (default {BY_VARIABLE[variable].default})") from None


def integer(variable: str) -> int:
    return _parsed(variable, int, "a whole number")


def number(variable: str) -> float:
    return _parsed(variable, float, "a number")


def secret(variable: str) -> EnvVar:
    """The variable as an EnvVar: its value never enters code, config or the UI."""
    if not BY_VARIABLE[variable].secret:
        raise SettingError(f"{variable} is not a secret: read it with text()")
    return EnvVar(variable)


def optional_secret(variable: str) -> EnvVar | None:
    """The variable as an EnvVar when it is set, else None (the feature it configures is off)."""
    return secret(variable) if os.environ.get(variable) else None
