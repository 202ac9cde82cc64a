"""Where the steps of a run execute, chosen by $ECOM_EXECUTOR: in the run's own process (`in_process`, the
one-machine default), one process per step (`multiprocess`), or on a pool of Celery workers (`celery`,
dagster-celery: broker and result backend from ECOM_CELERY_BROKER_URL / ECOM_CELERY_BACKEND_URL, the
settings in celery.yaml, which the workers read too). Step outputs travel through the S3 and
PostgreSQL IO managers, so a step can run on any host that reaches them."""

from importlib import resources
from typing import Any

import yaml
from dagster import ExecutorDefinition, in_process_executor, multiprocess_executor

from ecommerce_assets.settings import SettingError, text

EXECUTORS = ("in_process", "multiprocess", "celery")
CELERY_CONFIG = "celery.yaml"  # beside this module


def celery_settings() -> dict[str, Any]:
    """The `execution.config` block of celery.yaml (what the executor and the workers share)."""
    text_ = resources.files("ecommerce_assets").joinpath(CELERY_CONFIG).read_text(encoding="utf-8")
    return dict(yaml.safe_load(text_)["execution"]["config"])


def executor_from_env() -> ExecutorDefinition:
    kind = text("ECOM_EXECUTOR")
    if kind == "in_process":
        return in_process_executor
    if kind == "multiprocess":
        return multiprocess_executor
    if kind == "celery":
        from dagster_celery import celery_executor  # imported only where it is used

        # broker and backend stay {env: ...} references, resolved when a run starts (they are secrets)
        return celery_executor.configured({**celery_settings(), "retries": {"enabled": {}}}, name="celery")
    raise SettingError(f"ECOM_EXECUTOR must be one of {', '.join(EXECUTORS)}, not {kind!r}")
