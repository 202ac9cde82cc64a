"""A pool of `dagster-celery` workers for the tests and the benchmark: each worker a real process on a host
of its own (ecommerce_assets_tests.hosts), reaching the broker (RabbitMQ), the result backend (Redis),
PostgreSQL and S3 over its host's addresses; runs submitted with ECOM_EXECUTOR=celery by `dagster job
execute` on this host."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dagster import DagsterEventType, DagsterInstance
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ecommerce_assets.executors import celery_settings
from ecommerce_assets.partitions import WAREHOUSE_POOL
from ecommerce_assets_tests.support.helpers import REPO_ROOT, write_instance_yaml
from ecommerce_assets_tests.support.hosts import Host, Hosts, worker_hosts
from ecommerce_deploy.init_dagster import init_dagster

BIN = Path(sys.executable).parent
CELERY_YAML = REPO_ROOT / "ecommerce_assets" / "celery.yaml"
BROKER = ("127.0.0.1", 5672)   # RabbitMQ, guest/guest
BACKEND = ("127.0.0.1", 6379)  # Redis
QUEUE = "dagster"  # dagster-celery's default queue


@dataclass
class Worker:
    name: str
    host: Host
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL the worker and the processes it started, as a lost machine would stop them."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@dataclass
class Pool:
    hosts: Hosts
    workers: list[Worker]
    launcher_env: dict[str, str]   # for `dagster job execute` on this host
    instance: DagsterInstance
    backend_db: int

    def run_range(self, first: date, last: date, log: Path, job: str = "warehouse_job") -> "subprocess.Popen[bytes]":
        """Submit one run of `job` over [first, last], its steps executed by the workers."""
        tags = {ASSET_PARTITION_RANGE_START_TAG: str(first), ASSET_PARTITION_RANGE_END_TAG: str(last)}
        with log.open("ab") as out:
            return subprocess.Popen(
                [str(BIN / "dagster"), "job", "execute", "-m", "ecommerce_assets.definitions", "-j", job,
                 "--tags", json.dumps(tags)],
                cwd=REPO_ROOT, env=self.launcher_env, stdout=out, stderr=subprocess.STDOUT)

    def steps_by_worker(self, run_ids: list[str]) -> dict[str, list[str]]:
        """Worker name -> steps it started executing, from the runs' engine events."""
        executed: dict[str, list[str]] = {}
        for run_id in run_ids:
            for record in self.instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
                event = record.dagster_event
                metadata = getattr(event.event_specific_data, "metadata", None) if event is not None else None
                if event is None or not metadata or "Celery worker" not in metadata:
                    continue
                worker = str(metadata["Celery worker"].value).split("@")[0]
                executed.setdefault(worker, []).append(str(event.step_key))
        return executed


def purge_queue(broker_url: str) -> None:
    """Drop messages a killed earlier session may have left in the queue."""
    from kombu import Connection

    with Connection(broker_url) as connection, suppress(Exception):  # no such queue yet
        connection.default_channel.queue_purge(QUEUE)


def _with_host(dsn: str, host: str, port: int) -> str:
    parts = urlsplit(dsn)
    login = parts.netloc.rpartition("@")[0]
    return urlunsplit((parts.scheme, f"{login}@{host}:{port}" if login else f"{host}:{port}", parts.path,
                       parts.query, parts.fragment))


def _amqp(host: str, port: int) -> str:
    return f"pyamqp://guest:guest@{host}:{port}//"


@contextmanager
def celery_pool(count: int, pg_dsn: str, s3_endpoint: str, bucket: str, home: Path,
                ods_retention_days: int = 0, warehouse_dsn: str | None = None) -> Iterator[Pool]:
    """`count` workers, each on a host of its own, and the environment to submit runs to them. The warehouse is
    `warehouse_dsn` when given (a server of its own), else the instance's database server."""
    pg = urlsplit(pg_dsn)
    wh = urlsplit(warehouse_dsn or pg_dsn)
    s3 = urlsplit(s3_endpoint)
    backend_db = 1 + uuid.uuid4().int % 15
    services = {"postgres": (pg.hostname or "127.0.0.1", pg.port or 5432), "broker": BROKER, "backend": BACKEND,
                "s3": (s3.hostname or "127.0.0.1", s3.port or 80),
                "warehouse": (wh.hostname or "127.0.0.1", wh.port or 5432)}
    assert celery_settings()["broker"] == {"env": "ECOM_CELERY_BROKER_URL"}
    common = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": os.environ.get("HOME", "/root"),
              "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
              "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"), "AWS_REGION": "us-east-1",
              "ECOM_S3_BUCKET": bucket, "ECOM_MAX_REJECTED_SHARE": "1", "ECOM_ODS_RETENTION_DAYS": str(ods_retention_days),
              "PYTHONWARNINGS": "ignore", "DAGSTER_DISABLE_TELEMETRY": "1"}
    with ExitStack() as stack:
        hosts = stack.enter_context(worker_hosts(count, services))
        launcher_home = home / "launcher"
        launcher_home.mkdir(parents=True, exist_ok=True)
        # the repository's dagster.yaml: its storage URL stays an {env: DAGSTER_PG_URL} reference, which each
        # worker resolves to its own address of the instance database when it loads the run's instance
        shutil.copy(REPO_ROOT / "dagster.yaml", launcher_home / "dagster.yaml")
        launcher_env = {**common, "DAGSTER_HOME": str(launcher_home), "DAGSTER_PG_URL": pg_dsn,
                        "ECOM_PG_DSN": warehouse_dsn or pg_dsn,
                        "ECOM_S3_ENDPOINT_URL": s3_endpoint, "ECOM_EXECUTOR": "celery",
                        "ECOM_CELERY_BROKER_URL": _amqp(*BROKER),
                        "ECOM_CELERY_BACKEND_URL": f"redis://{BACKEND[0]}:{BACKEND[1]}/{backend_db}"}
        purge_queue(launcher_env["ECOM_CELERY_BROKER_URL"])
        workers = []
        for n, host in enumerate(hosts.hosts):
            worker_home = home / f"worker{n}"
            worker_home.mkdir(parents=True, exist_ok=True)
            reach = {name: host.services[name] for name in services}
            worker_dsn = _with_host(pg_dsn, *reach["postgres"])
            shutil.copy(REPO_ROOT / "dagster.yaml", worker_home / "dagster.yaml")
            env = {**common, "DAGSTER_HOME": str(worker_home), "DAGSTER_PG_URL": worker_dsn,
                   "ECOM_PG_DSN": _with_host(warehouse_dsn or pg_dsn, *reach["warehouse"]),
                   "ECOM_S3_ENDPOINT_URL": f"http://{host.url('s3')}",
                   "ECOM_CELERY_BROKER_URL": _amqp(*reach["broker"]),
                   "ECOM_CELERY_BACKEND_URL": f"redis://{host.url('backend')}/{backend_db}"}
            log = home / f"worker{n}.log"
            with log.open("ab") as out:
                process = subprocess.Popen(
                    [*host.prefix, "env", "-i", *(f"{k}={v}" for k, v in env.items()),
                     str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(CELERY_YAML),
                     "-n", f"w{n}", "--loglevel", "WARNING", "--", "--pool=solo", "--without-mingle",
                     "--without-gossip"],
                    cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            worker = Worker(f"w{n}", host, process, log)
            stack.callback(_stop, worker)
            workers.append(worker)
        write_instance_yaml(home, pg_dsn)  # this test process reads the same instance, literally configured
        instance = stack.enter_context(DagsterInstance.from_config(str(home)))
        init_dagster(instance, {WAREHOUSE_POOL})  # the deployment's set-up step: the pools exist before any run
        _wait_until_ready(launcher_env["ECOM_CELERY_BROKER_URL"], [w.name for w in workers], workers)
        try:
            yield Pool(hosts, workers, launcher_env, instance, backend_db)
        finally:
            purge_queue(launcher_env["ECOM_CELERY_BROKER_URL"])


def _stop(worker: Worker) -> None:
    if worker.process.poll() is None:
        try:
            os.killpg(worker.process.pid, signal.SIGTERM)
            worker.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=20)


def _wait_until_ready(broker_url: str, names: list[str], workers: list[Worker], seconds: float = 90) -> None:
    """Until every worker answers a ping through the broker."""
    from celery import Celery

    app = Celery(broker=broker_url)
    deadline = time.monotonic() + seconds
    answered: set[str] = set()
    while time.monotonic() < deadline:
        for worker in workers:
            if worker.process.poll() is not None:
                raise AssertionError(f"worker {worker.name} exited: {worker.log.read_text()[-3000:]}")
        replies = app.control.ping(timeout=1.0) or []
        answered = {name.split("@")[0] for reply in replies for name in reply}
        if set(names) <= answered:
            return
        time.sleep(1)
    logs = "\n".join(f"--- {w.name}\n{w.log.read_text()[-2000:]}" for w in workers)
    raise AssertionError(f"workers {sorted(set(names) - answered)} never answered:\n{logs}")
