"""Real Dagster processes for the tests: `dagster-daemon` and `dagster-webserver` serving this code location
against a PostgreSQL-backed instance and the test's services."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psutil
import pytest
import requests
import yaml
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, EventLogRecord
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.scheduler.instigation import InstigatorType
from dagster._grpc.client import DagsterGrpcClient

from ecommerce_assets.definitions import defs
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.pace import SensorPace
from ecommerce_assets_tests.support.helpers import REPO_ROOT, write_instance_yaml
from ecommerce_deploy.init_dagster import init_dagster, pools_of
from ecommerce_local.services import free_port

BIN = Path(sys.executable).parent
LOCATION = "ecommerce_assets"  # the code location's name, as workspace.yaml and the compose deployment name it
# the stacks' sensors at the production pace: at half the intervals, the automation once asked again for a mart
# the out-of-order test had settled (not investigated yet), and a faster pace did not make the suite faster
SENSOR_PACE = SensorPace(1.0)
# the bound of a test that runs a daemon stack: it waits for many runs in turn, and with four such tests at once on
# a slow 2-core machine the chaos test took over 600 s (CI, 2026-12-07). The bound only catches a hang; a slow run
# ends in wait_for's own message (what was awaited, the runs, the log's end), not in the global bound's stack dump
STACK_TEST = pytest.mark.timeout(1500)


@dataclass(frozen=True)
class DagsterStack:
    instance: DagsterInstance
    env: dict[str, str]
    log: Path
    webserver_url: str | None


def wait_for(condition: Callable[[], bool], seconds: float, what: str, log: Path,
             instance: DagsterInstance | None = None) -> None:
    """Poll `condition` until it holds; a timeout names what was awaited, the runs so far and the log's end."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    runs = "" if instance is None else "\n".join(
        f"  {r.run_id[:8]} {r.status.value} {r.tags.get('dagster/partition', '')} "
        f"{sorted(k.to_user_string() for k in r.asset_selection or [])}" for r in reversed(instance.get_runs()))
    raise AssertionError(f"timed out after {seconds}s waiting for {what}; runs:\n{runs}\nlog:\n{log.read_text()[-4000:]}")


@contextmanager
def _process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("a") as out:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield process
    finally:
        with suppress(ProcessLookupError):  # the group is gone already (a webserver that could not bind)
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def dagster_stack(tmp_path: Path, pg_dsn: str, lake: LakeResource, api_url: str,
                  webserver: bool = False, extra_env: dict[str, str] | None = None, daemon: bool = True
                  ) -> Iterator[DagsterStack]:
    """The code location's server, the daemon (without it submitted runs stay queued) and, if asked, the
    webserver, on a fresh instance in `tmp_path`."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    write_instance_yaml(home, pg_dsn)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ECOM_PG_DSN": pg_dsn,
        "ECOM_S3_ENDPOINT_URL": lake.endpoint_url or "",
        "ECOM_S3_BUCKET": lake.bucket,
        "ECOM_API_BASE_URL": api_url,
        "ECOM_API_PAGE_SIZE": "40",
        "ECOM_SENSOR_INTERVAL_SCALE": str(SENSOR_PACE.scale),
        "ECOM_MAX_REJECTED_SHARE": "1",  # the awkward test catalogs reject a third of their records
        **(extra_env or {}),
    }
    log = tmp_path / "dagster.log"
    with ExitStack() as stack:
        stack.callback(_kill_left_behind, home)  # last: after the daemon and webserver have stopped
        instance = stack.enter_context(DagsterInstance.from_config(str(home)))
        init_dagster(instance, pools_of(defs))  # the deployment's set-up step, before any run
        workspace = str(_serve_code_location(stack, env, log, home))
        if daemon:
            stack.enter_context(_process([str(BIN / "dagster-daemon"), "run", "-w", workspace], env, log))
        url = None
        if webserver:
            for attempt in range(3):  # a port found free can be taken (by a code server) before the webserver binds it
                port = free_port()
                url = f"http://127.0.0.1:{port}"
                process = stack.enter_context(_process(
                    [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)], env, log))
                wait_for(lambda url=url, process=process: _answers(url) or process.poll() is not None,  # type: ignore[misc]
                         180, "dagster-webserver", log)
                if process.poll() is None:
                    break
                if attempt == 2:
                    raise AssertionError(f"dagster-webserver exited three times; log:\n{log.read_text()[-4000:]}")
        yield DagsterStack(instance=instance, env=env, log=log, webserver_url=url)


def _serve_code_location(stack: ExitStack, env: dict[str, str], log: Path, home: Path) -> Path:
    """The code location served by a code server of its own, as the compose deployment serves it (service
    dagster-code), and a workspace file pointing the daemon and webserver at it: they share its one process, which
    launches the runs. (With workspace.yaml's python_module each of them starts code servers of its own, the
    daemon a new one at every workspace refresh, once a minute: 4–5 CPU-seconds each on this machine.) The server
    is `dagster api grpc` itself, not compose's `dagster code-server start`, a proxy that starts the same server
    as a child process and polls it (another 4 CPU-seconds in a four-minute test)."""
    for _attempt in range(3):  # a port found free can be taken before the server binds it
        port = free_port()
        process = stack.enter_context(_process(
            [str(BIN / "dagster"), "api", "grpc", "-h", "127.0.0.1", "-p", str(port),
             "-m", "ecommerce_assets.definitions", "--location-name", LOCATION], env, log))
        client = DagsterGrpcClient(port=port, host="127.0.0.1")
        wait_for(lambda client=client, process=process: _pings(client) or process.poll() is not None,  # type: ignore[misc]
                 180, "the code server (dagster api grpc)", log)
        if process.poll() is None:
            workspace = home / "workspace.yaml"
            workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
                "host": "127.0.0.1", "port": port, "location_name": LOCATION}}]}))
            return workspace
    raise AssertionError(f"the code server exited three times; log:\n{log.read_text()[-4000:]}")


def _pings(client: DagsterGrpcClient) -> bool:
    """The code server answers once the code location has loaded."""
    try:
        client.ping("ready")
    except DagsterUserCodeUnreachableError:  # not listening yet, or still loading: asked again
        return False
    return True


def _kill_left_behind(home: Path) -> None:
    """The code servers and run workers the daemon and webserver started outlive their process group (they
    open sessions of their own): stop every process of this stack's DAGSTER_HOME, so none keeps running —
    using CPU, or writing to a database the test has dropped — after the test."""
    for process in psutil.process_iter():
        with suppress(psutil.Error):
            if process.pid != os.getpid() and process.environ().get("DAGSTER_HOME") == str(home):
                process.kill()


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/server_info", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def sensor_has_ticked(instance: DagsterInstance, name: str) -> bool:
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.name == name and instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1):
            return True
    return False


def materializations(instance: DagsterInstance, asset: AssetKey | str, day: date | str, limit: int = 100
                     ) -> list[EventLogRecord]:
    """The asset's materializations of the day's partition, the latest first: counted in the event log,
    however the runs that made them were grouped or tagged."""
    key = asset if isinstance(asset, AssetKey) else AssetKey(asset)
    return list(instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[str(day)]), limit=limit).records)
