"""The executor is configuration: $ECOM_EXECUTOR picks where every job's steps run, in_process by default;
the Celery settings the runs use are the ones the workers read (deploy/celery.yaml)."""

import json
import subprocess
import sys

import pytest
from dagster_celery.cli import get_validated_config

from ecommerce_assets.executors import celery_settings
from ecommerce_assets_tests.conftest import REPO_ROOT
from ecommerce_assets_tests.helpers import clean_env

SHOW = """
import json
from ecommerce_assets.definitions import defs
jobs = {job.name: job.executor_def for job in defs.resolve_all_job_defs() if not job.name.startswith("__")}
def configured(executor):
    given = getattr(executor.config_schema, "_config_fn", None)  # what .configured() was given
    return given({}) if callable(given) else given
print(json.dumps({name: [e.name, configured(e)] for name, e in jobs.items()}, default=str))
"""


def executors_of(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SHOW], cwd=REPO_ROOT, env=clean_env(**env), capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(("setting", "expected"), [({}, "in_process"), ({"ECOM_EXECUTOR": "multiprocess"}, "multiprocess"),
                                                   ({"ECOM_EXECUTOR": "celery"}, "celery")])
def test_every_job_runs_its_steps_where_the_setting_says(setting: dict[str, str], expected: str) -> None:
    done = executors_of(**setting)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"ecommerce_daily_job", "warehouse_job", "dm_ecommerce_job"} <= set(jobs)
    assert {executor for executor, _ in jobs.values()} == {expected}
    if expected == "celery":  # the broker stays an environment reference: never a value in the definitions
        configured = next(iter(jobs.values()))[1]
        assert configured["broker"] == {"env": "ECOM_CELERY_BROKER_URL"}
        assert configured["backend"] == {"env": "ECOM_CELERY_BACKEND_URL"}
        assert configured["config_source"]["task_acks_late"] is True


def test_an_unknown_executor_stops_the_load_naming_the_variable() -> None:
    done = executors_of(ECOM_EXECUTOR="kubernetes")
    assert done.returncode != 0
    assert "ECOM_EXECUTOR must be one of in_process, multiprocess, celery, not 'kubernetes'" in done.stderr


def test_the_workers_read_the_same_celery_settings_and_they_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOM_CELERY_BROKER_URL", "pyamqp://u:p@broker:5672//")
    monkeypatch.setenv("ECOM_CELERY_BACKEND_URL", "redis://results:6379/0")
    config = get_validated_config(str(REPO_ROOT / "ecommerce_assets" / "deploy" / "celery.yaml"))
    assert config["broker"] == "pyamqp://u:p@broker:5672//" and config["backend"] == "redis://results:6379/0"
    # what makes a killed worker's step run again elsewhere
    assert config["config_source"]["task_acks_late"] is True
    assert config["config_source"]["task_reject_on_worker_lost"] is True
    assert config["config_source"]["worker_prefetch_multiplier"] == 1
    assert celery_settings()["config_source"] == config["config_source"]
