"""The executor is configuration: $ECOM_EXECUTOR picks where every job's steps run, in_process by default;
the Celery settings the runs use are the ones the workers read (ecommerce_assets/celery.yaml)."""

from typing import Any

import pytest
from dagster import ExecutorDefinition
from dagster_celery.cli import get_validated_config

from ecommerce_assets.definitions import build_defs
from ecommerce_assets.environment import resources_from_env
from ecommerce_assets.executors import celery_settings, executor_from_env
from ecommerce_assets.settings import SettingError
from ecommerce_assets_tests.support.helpers import REPO_ROOT, newcomer


def executors_of(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, tuple[str, Any]]:
    """Each job of the definitions built as the code server builds them under `env`: its executor and the
    configuration that executor was given."""
    newcomer(monkeypatch, **env)
    defs = build_defs(resources_from_env(), executor_from_env())
    jobs = {job.name: job.executor_def for job in defs.resolve_all_job_defs() if not job.name.startswith("__")}

    def configured(executor: ExecutorDefinition) -> Any:
        given = getattr(executor.config_schema, "_config_fn", None)  # what .configured() was given
        return given({}) if callable(given) else given

    return {name: (executor.name, configured(executor)) for name, executor in jobs.items()}


@pytest.mark.parametrize(("setting", "expected"), [({}, "in_process"), ({"ECOM_EXECUTOR": "multiprocess"}, "multiprocess"),
                                                   ({"ECOM_EXECUTOR": "celery"}, "celery")])
def test_every_job_runs_its_steps_where_the_setting_says(setting: dict[str, str], expected: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = executors_of(monkeypatch, **setting)
    assert {"ecommerce_daily_job", "warehouse_job", "dm_ecommerce_job"} <= set(jobs)
    assert {executor for executor, _ in jobs.values()} == {expected}
    if expected == "celery":  # the broker stays an environment reference: never a value in the definitions
        configured = next(iter(jobs.values()))[1]
        assert configured["broker"] == {"env": "ECOM_CELERY_BROKER_URL"}
        assert configured["backend"] == {"env": "ECOM_CELERY_BACKEND_URL"}
        assert configured["config_source"]["task_acks_late"] is True


def test_an_unknown_executor_stops_the_load_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingError, match="ECOM_EXECUTOR must be one of in_process, multiprocess, celery, not 'kubernetes'"):
        executors_of(monkeypatch, ECOM_EXECUTOR="kubernetes")


def test_the_workers_read_the_same_celery_settings_and_they_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOM_CELERY_BROKER_URL", "pyamqp://u:p@broker:5672//")
    monkeypatch.setenv("ECOM_CELERY_BACKEND_URL", "redis://results:6379/0")
    config = get_validated_config(str(REPO_ROOT / "ecommerce_assets" / "celery.yaml"))
    assert config["broker"] == "pyamqp://u:p@broker:5672//" and config["backend"] == "redis://results:6379/0"
    # what makes a killed worker's step run again elsewhere
    assert config["config_source"]["task_acks_late"] is True
    assert config["config_source"]["task_reject_on_worker_lost"] is True
    assert config["config_source"]["worker_prefetch_multiplier"] == 1
    assert celery_settings()["config_source"] == config["config_source"]
