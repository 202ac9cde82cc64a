"""Asset checks evaluated per daily partition: one evaluation for each day of the run — a day, or the range
of days of a batched backfill — each recorded against its own partition, so a range needs no folding: the
UI shows which day failed, and a blocking check that fails on any day stops what depends on the asset."""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    AssetRecordsFilter,
    Output,
    asset_check,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.definitions.metadata import normalize_metadata

from ecommerce_assets.partitions import daily_partitions
from ecommerce_assets.warehouse import WarehouseResource

CHECK_OUTPUT = "result"  # the output every @asset_check op declares


@dataclass(frozen=True)
class Verdict:
    """What a check found on one day."""

    passed: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None


Judge = Callable[[AssetCheckExecutionContext, date], Verdict]


def never_loaded(warehouse: WarehouseResource, table: str, asset: AssetKey, day: date) -> Verdict | None:
    """The verdict of a day's check on `table` when its partition was never loaded (nothing to judge), else
    None."""
    if warehouse.day_loaded(table, day):
        return None
    return Verdict(False, {"loaded": False}, f"{table} has no partition {day}: it was never loaded; materialize "
                                             f"{asset.to_user_string()} for partition {day} first")


def daily_check(asset: AssetKey, name: str, description: str, *, blocking: bool = False,
                severity: AssetCheckSeverity = AssetCheckSeverity.ERROR, resource_keys: frozenset[str] = frozenset(),
                config_schema: Any = None, additional_deps: list[AssetKey] | None = None
                ) -> Callable[[Judge], AssetChecksDefinition]:
    """An asset check of `asset` that judges each day of the run with the decorated function (reading what is
    stored, through the resources named in `resource_keys`). Named `<asset>__<rule>`, as every check."""

    def decorator(judge: Judge) -> AssetChecksDefinition:
        # yields one evaluation per day (and the op's output), which the decorator's type does not foresee
        @asset_check(asset=asset, name=name, description=description, blocking=blocking,  # type: ignore[arg-type]
                     partitions_def=daily_partitions, required_resource_keys=set(resource_keys),
                     config_schema=config_schema, additional_deps=additional_deps)
        def check(context: AssetCheckExecutionContext) -> Iterator[Any]:
            for key in context.partition_keys:
                verdict = judge(context, date.fromisoformat(key))
                yield AssetCheckEvaluation(
                    asset_key=asset, check_name=name, passed=verdict.passed,
                    metadata=normalize_metadata(dict(verdict.metadata)), severity=severity,
                    description=verdict.description, blocking=blocking, partition=key,
                    target_materialization_data=_latest_materialization(context, asset, key),
                )
            yield Output(None, output_name=CHECK_OUTPUT)

        return check

    return decorator


def _latest_materialization(context: AssetCheckExecutionContext, asset: AssetKey,
                            partition: str) -> AssetCheckEvaluationTargetMaterializationData | None:
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=asset, asset_partitions=[partition]), limit=1).records
    if not records:
        return None
    record = records[0]
    return AssetCheckEvaluationTargetMaterializationData(run_id=record.run_id, storage_id=record.storage_id,
                                                         timestamp=record.timestamp)
