"""What a local run tells its user: a summary of each layer, the checks, and — when the run failed — the
root cause once, the command line that fixes it, and where the full log is."""

import json
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import AssetCheckEvaluation, DagsterEvent, DagsterInstance
from dagster._core.events import DagsterEventType

from ecommerce_assets.diagnosis import describe_error

# Asset config a failure message may ask for, and the flag of the local runner that sets it.
FLAGS = {
    "refetch": "--refetch",
    "allow_late_fetch": "--allow-late-fetch",
    "accept_rejected_share": "--accept-rejected-share",
    "confirm_shrink": "--confirm-shrink",
}
WIDTH = 100


@dataclass(frozen=True)
class Failure:
    step: str
    message: str


def _values(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {name: getattr(value, "value", value) for name, value in metadata.items()}


def materializations(events: Iterable[DagsterEvent]) -> dict[str, dict[str, Any]]:
    """Asset name → its materialization's metadata (plain values)."""
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION and event.asset_key is not None:
            materialization = event.step_materialization_data.materialization
            found[event.asset_key.to_user_string()] = _values(materialization.metadata)
    return found


def failures(events: Iterable[DagsterEvent]) -> list[Failure]:
    """Each failed step with the cause its code raised (Dagster's wrappers unwrapped), in order."""
    found = []
    for event in events:
        if event.event_type != DagsterEventType.STEP_FAILURE:
            continue
        data = event.step_failure_data
        message = describe_error(data.error) if data is not None and data.error is not None else (event.message or "")
        found.append(Failure(event.step_key or "?", message))
    if not found:
        for event in events:
            if event.event_type == DagsterEventType.RUN_FAILURE:
                found.append(Failure("run", event.message or "the run failed"))
    return found


def remedy_flags(message: str) -> list[str]:
    """The runner's flags for every `option: true` the message asks for."""
    return [flag for option, flag in FLAGS.items() if re.search(rf"`{option}: true`", message)]


def _wrap(text: str, indent: str = "  ") -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines():
        lines.extend(textwrap.wrap(paragraph, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ") or [""])
    return lines


def failure_report(run_id: str, partition: str, found: Sequence[Failure], not_run: Sequence[str],
                   rerun: str, log_path: Path, ui_hint: str) -> list[str]:
    lines = [f"FAILED: run {run_id[:8]} for partition {partition}"]
    for failure in found:
        lines.append(f"  {failure.step}:")
        lines.extend(_wrap(failure.message, "    "))
        flags = remedy_flags(failure.message)
        if flags:
            lines.append(f"    → rerun: {rerun} {' '.join(flags)}")
    if not_run:
        lines.append(f"  not run: {', '.join(not_run)}")
    lines.append(f"  full log: {log_path}  (stack traces on the terminal: --verbose)")
    lines.append(f"  in the UI: {ui_hint}/runs/{run_id}")
    return lines


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _changes(meta: Mapping[str, Any]) -> str:
    inserted, updated, deleted, unchanged = (_count(meta.get(f"rows_{k}")) for k in
                                             ("inserted", "updated", "deleted", "unchanged"))
    if inserted == updated == deleted == 0:
        return f"unchanged ({unchanged} rows already stored, nothing written)"
    return f"{inserted} inserted, {updated} updated, {unchanged} unchanged, {deleted} deleted"


def raw_line(meta: Mapping[str, Any]) -> str:
    if meta.get("reused"):
        return (f"reused the stored snapshot, {_count(meta.get('rows'))} records, {meta.get('uri')} "
                "(the API keeps no history; --refetch replaces it)")
    return (f"fetched {_count(meta.get('records'))} records in {_count(meta.get('pages'))} pages "
            f"({float(meta.get('duration_seconds') or 0):.1f} s) → {meta.get('uri')}")


def ods_lines(meta: Mapping[str, Any]) -> list[str]:
    lines = [f"{_count(meta.get('accepted'))} accepted, {_count(meta.get('rejected'))} rejected, "
             f"{_count(meta.get('duplicates'))} superseded duplicates of {_count(meta.get('raw_records'))} records; "
             f"rows {_changes(meta)}"]
    reasons = meta.get("rejected_by_reason") or {}
    if isinstance(reasons, dict) and reasons:
        ranked = sorted(reasons.items(), key=lambda item: (-int(item[1]), item[0]))
        lines.append("rejected: " + ", ".join(f"{reason} {count}" for reason, count in ranked))
    return lines


def check_lines(evaluations: Sequence[AssetCheckEvaluation]) -> list[str]:
    passed = [e for e in evaluations if e.passed]
    failed = [e for e in evaluations if not e.passed]
    if not evaluations:
        return []
    warned = [e for e in failed if e.severity.value == "WARN"]
    lines = [f"checks: {len(passed)} passed, {len(failed) - len(warned)} failed, {len(warned)} warned"]
    for evaluation in failed:
        values = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
        detail = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in values.items())
        detail = detail if len(detail) <= WIDTH else detail[:WIDTH - 1] + "…"
        label = "WARNED" if evaluation.severity.value == "WARN" else "FAILED"
        lines.append(f"  {label} {evaluation.check_name}: {detail}")
    return lines


CHANGE_LABELS = (("added", "added"), ("removed", "removed"), ("price_changed", "price changed"),
                 ("stock_out", "out of stock"), ("restocked", "restocked"), ("category_changed", "category changed"))


def changes_line(meta: Mapping[str, Any]) -> str:
    if meta.get("first_snapshot"):
        return "first snapshot in the ODS: nothing to compare it with, no changes"
    return (f"against {meta.get('previous_snapshot_date')}: "
            + ", ".join(f"{_count(meta.get(kind))} {label}" for kind, label in CHANGE_LABELS))


def history_line(meta: Mapping[str, Any]) -> str:
    return (f"{meta.get('update')}; {_count(meta.get('intervals'))} intervals of {_count(meta.get('products'))} "
            f"products ({_count(meta.get('intervals_begun'))} begun, {_count(meta.get('intervals_ended'))} ended now)")


def day_line(partition: str, meta_by_asset: Mapping[str, Mapping[str, Any]]) -> str:
    """One line per simulated day."""
    raw = meta_by_asset.get("raw_products_parquet", {})
    ods = meta_by_asset.get("ods_fct_products", {})
    source = "reused" if raw.get("reused") else "fetched"
    changes = meta_by_asset.get("dm_fct_product_changes", {})
    return (f"{partition}  {source} {_count(raw.get('rows') or raw.get('records'))} records, "
            f"{_count(ods.get('accepted'))} in the ODS; changes {changes_line(changes)}")


def summary(meta_by_asset: Mapping[str, Mapping[str, Any]], evaluations: Sequence[AssetCheckEvaluation]) -> list[str]:
    lines = []
    if "raw_products_parquet" in meta_by_asset:
        lines.append("raw  " + raw_line(meta_by_asset["raw_products_parquet"]))
    if "ods_fct_products" in meta_by_asset:
        first, *rest = ods_lines(meta_by_asset["ods_fct_products"])
        lines += ["ods  " + first] + ["     " + line for line in rest]
    if "dm_fct_product_changes" in meta_by_asset:
        lines.append("chg  " + changes_line(meta_by_asset["dm_fct_product_changes"]))
    if "dm_fct_ecommerce" in meta_by_asset:
        mart = meta_by_asset["dm_fct_ecommerce"]
        lines.append(f"dm   {_count(mart.get('row_count'))} categories; rows {_changes(mart)}")
    if "dm_dim_product_history" in meta_by_asset:
        lines.append("hist " + history_line(meta_by_asset["dm_dim_product_history"]))
    return lines + check_lines(evaluations)


def write_log(instance: DagsterInstance, run_id: str, path: Path) -> None:
    """Every event of the run with full stack traces, for the reader who wants all of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            kind = event.event_type_value if event else "LOG"
            when = datetime.fromtimestamp(entry.timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            out.write(f"{when} {kind:<28} {entry.step_key or '':<24} {entry.message or ''}\n")
            error = None
            if event is not None and event.event_type == DagsterEventType.STEP_FAILURE and event.step_failure_data:
                error = event.step_failure_data.error
            elif event is not None and event.event_type == DagsterEventType.RUN_FAILURE and event.job_failure_data:
                error = event.job_failure_data.error
            if error is not None:
                out.write(textwrap.indent(error.to_string(), "    ") + "\n")
