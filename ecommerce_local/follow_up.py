"""What the daemon would run next, run here: after the local runner's own runs, the definitions' automation
conditions are evaluated and the domains' follow-up sensors (the gaps the partition mappings cannot see)
are asked, in this process, and what they request is materialized — again until nothing more is requested.
So a history built from the command line is never left stale, and it is the definitions themselves, not a
second copy of their rules, that decide what is stale.

The cursors are kept in the state folder, so each invocation continues where the last one stopped."""

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetSelection,
    DagsterInstance,
    Definitions,
    ExecuteInProcessResult,
    build_sensor_context,
    evaluate_automation_conditions,
    materialize,
)
from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor
from dagster._serdes import deserialize_value, serialize_value

from ecommerce_assets.run_health import process_tags

FRESHNESS_CHECK = "freshness_check"  # Dagster's freshness checks: run by their sensor, never with a materialization
MAX_ROUNDS = 20


@dataclass
class Cursors:
    """Where the evaluations stopped: the automation's cursor and each follow-up sensor's."""

    automation: AssetDaemonCursor | None = None
    sensors: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> "Cursors":
        if path is None or not path.exists():
            return cls()
        saved = json.loads(path.read_text())
        automation = deserialize_value(saved["automation"], AssetDaemonCursor) if saved.get("automation") else None
        return cls(automation, dict(saved.get("sensors") or {}))

    def save(self, path: Path | None) -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"automation": serialize_value(self.automation) if self.automation else None,
                                    "sensors": self.sensors}))


@dataclass(frozen=True)
class Request:
    """Assets to materialize together for one partition (None: assets that are not partitioned)."""

    partition: str | None
    assets: frozenset[AssetKey]


def selection(defs: Definitions, assets: Iterable[AssetKey], partitioned: bool = True) -> AssetSelection:
    """`assets` with their checks and, for a day's run, the blocking checks of the assets they read (the gates,
    as the named jobs carry them); never the freshness checks."""
    graph = defs.resolve_asset_graph()
    keys = set(assets)
    parents = {parent for key in keys for parent in graph.get(key).parent_keys} - keys if partitioned else set()
    checks: set[AssetCheckKey] = set()
    for check_key in graph.asset_check_keys:
        if check_key.name == FRESHNESS_CHECK:
            continue
        if check_key.asset_key in keys or (check_key.asset_key in parents and graph.get(check_key).blocking):
            checks.add(check_key)
    return AssetSelection.assets(*keys).without_checks() | AssetSelection.checks(*checks)


def requested(defs: Definitions, instance: DagsterInstance, cursors: Cursors, sensors: Sequence[str]) -> list[Request]:
    """What the automation and the follow-up sensors request now (cursors moved on)."""
    by_partition: dict[str | None, set[AssetKey]] = {}
    result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursors.automation)
    cursors.automation = result.cursor
    for key in defs.resolve_asset_graph().get_all_asset_keys():
        if result.get_num_requested(key):
            for partition in result.get_requested_partitions(key):
                by_partition.setdefault(partition, set()).add(key)
    for name in sensors:
        sensor = defs.resolve_sensor_def(name)
        with build_sensor_context(instance=instance, cursor=cursors.sensors.get(name), definitions=defs,
                                  resources=dict(defs.resources or {})) as context:
            outcome: Any = sensor(context)
        cursors.sensors[name] = outcome.cursor
        for run in outcome.run_requests or []:
            by_partition.setdefault(run.partition_key, set()).update(run.asset_selection or [])
    return [Request(partition, frozenset(keys)) for partition, keys in sorted(by_partition.items(),
                                                                               key=lambda item: item[0] or "")]


def run_request(defs: Definitions, instance: DagsterInstance, request: Request,
                run_config: dict[str, Any] | None = None) -> ExecuteInProcessResult:
    everything: list[Any] = [*(defs.assets or []), *(defs.asset_checks or [])]
    return materialize(everything, selection=selection(defs, request.assets, request.partition is not None), partition_key=request.partition,
                       resources=dict(defs.resources or {}), instance=instance, run_config=run_config or {},
                       raise_on_error=False, tags=process_tags())


def settle(defs: Definitions, instance: DagsterInstance, cursors: Cursors, sensors: Sequence[str],
           execute: Callable[[Request], ExecuteInProcessResult] | None = None) -> list[tuple[Request, ExecuteInProcessResult]]:
    """Run what is requested, then evaluate again, until nothing more is (at most MAX_ROUNDS rounds); returns
    each request with its result, in order. A failed run does not stop the others."""
    execute = execute or (lambda request: run_request(defs, instance, request))
    done: list[tuple[Request, ExecuteInProcessResult]] = []
    for _ in range(MAX_ROUNDS):
        pending = requested(defs, instance, cursors, sensors)
        if not pending:
            break
        done.extend((request, execute(request)) for request in pending)
    return done
