"""What a local run tells its user: a summary of each layer, the checks, and — when the run failed — the
root cause once, the command line that fixes it, and where the full log is."""

import json
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
from dagster import AssetCheckEvaluation, DagsterEvent, DagsterInstance
from dagster._core.events import DagsterEventType

from ecommerce_assets.diagnosis import describe_error, root_cause
from ecommerce_local.queries import load_query

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


def interrupted(events: Iterable[DagsterEvent]) -> bool:
    """Whether a run ended because it was interrupted (Ctrl-C, SIGTERM): Dagster turns the interrupt into a
    failure of the step that was running."""
    for event in events:
        if event.event_type == DagsterEventType.STEP_FAILURE and event.step_failure_data is not None:
            error = event.step_failure_data.error
            if error is not None and root_cause(error).cls_name in ("DagsterExecutionInterruptedError",
                                                                     "KeyboardInterrupt"):
                return True
    return False


def failures(events: Iterable[DagsterEvent], evaluations: Sequence[AssetCheckEvaluation] = ()) -> list[Failure]:
    """Each failed step with the cause its code raised (Dagster's wrappers unwrapped), in order; a step that
    failed because a blocking check failed is the check, with what it found (its description)."""
    found: list[Failure] = []
    for event in events:
        if event.event_type != DagsterEventType.STEP_FAILURE:
            continue
        gates = [e for e in evaluations if not e.passed and e.blocking and (event.step_key or "").endswith(e.check_name)]
        if gates:
            found.extend(Failure(e.check_name, e.description or "failed") for e in gates)
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


def _plural(value: Any, noun: str) -> str:
    """`1 page`, `2 pages`, `0 pages`."""
    n = _count(value)
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


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
    return (f"fetched {_plural(meta.get('records'), 'record')} in {_plural(meta.get('pages'), 'page')} "
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
    if "raw_carts_parquet" in meta_by_asset:
        lines.append("raw  carts: " + raw_line(meta_by_asset["raw_carts_parquet"]))
    if "raw_users_parquet" in meta_by_asset:
        lines.append("raw  users (reduced: no personal field kept): " + raw_line(meta_by_asset["raw_users_parquet"]))
    if "ods_fct_cart_lines" in meta_by_asset:
        lines.append("ods  " + cart_line(meta_by_asset["ods_fct_cart_lines"]))
    if "ods_dim_customers" in meta_by_asset:
        users = meta_by_asset["ods_dim_customers"]
        lines.append(f"ods  {_count(users.get('accepted'))} customers, {_count(users.get('rejected'))} users rejected")
    if "dm_fct_orders" in meta_by_asset:
        orders = meta_by_asset["dm_fct_orders"]
        if _count(orders.get("days_taken_in")):
            lines.append(f"dm   orders: took in {_plural(orders.get('days_taken_in'), 'day')} of carts; "
                         f"{_plural(orders.get('orders_derived'), 'order')} derived, "
                         f"{_plural(orders.get('dates_derived'), 'order date')} changed; "
                         "sales and customers derived again for them")
        else:
            lines.append("dm   orders, sales, customers: nothing new (every stored day of carts already taken in)")
    return lines + check_lines(evaluations)


def cart_line(meta: Mapping[str, Any]) -> str:
    line = (f"{_count(meta.get('carts'))} carts, {_count(meta.get('accepted_lines'))} lines accepted; "
            f"{_count(meta.get('rejected_carts'))} carts rejected ({_count(meta.get('rejected_lines'))} lines)")
    reasons = meta.get("rejected_by_reason") or {}
    if isinstance(reasons, dict) and reasons:
        line += ": " + ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
    return line


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


def say(line: str) -> None:
    print(line, flush=True)


def table(title: str, header: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> None:
    cells = [header] + [tuple("" if v is None else str(v) for v in row) for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    say(f"\n{title}")
    for i, row in enumerate(cells):
        say("  ".join(v.ljust(w) if j == 0 else v.rjust(w) for j, (v, w) in enumerate(zip(row, widths, strict=True))))
        if i == 0:
            say("  ".join("-" * w for w in widths))


MART_HEADER = ("category", "product_count", "total_stock", "avg_price", "avg_rating", "out_of_stock_count",
               "inventory_value", "avg_discount_pct", "price_changes")


def print_mart(dsn: str, partition: str) -> None:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(load_query("mart"), {"day": date.fromisoformat(partition)}).fetchall()
    table(f"dm.fct_ecommerce, report_date = {partition}", MART_HEADER, rows)


def print_changes(meta: Mapping[str, Any], partition: str) -> None:
    """The day's changes as its materialization recorded them (counts, the snapshot compared with, movers)."""
    if not meta:
        return
    if meta.get("first_snapshot"):
        say(f"\nchanges on {partition}: none — the first snapshot in the ODS, nothing to compare it with")
        return
    say(f"\nchanges on {partition} (against {meta.get('previous_snapshot_date')}): "
        + ", ".join(f"{_count(meta.get(kind))} {kind.replace('_', ' ')}" for kind, _ in CHANGE_LABELS))
    movers = getattr(meta.get("top_price_movers"), "records", None) or []
    if movers:
        table("top price movers", ("product_id", "old_price", "new_price", "change_pct"),
              [(m.data["product_id"], m.data["old_price"], m.data["new_price"], f"{m.data['change_pct']:.2f}")
               for m in movers[:5]])


def print_sales(dsn: str, partition: str) -> None:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(load_query("sales"), {"day": date.fromisoformat(partition)}).fetchall()
    if rows:
        table(f"dm.fct_sales, order_date = {partition} (orders first seen that day)",
              ("category", "orders", "units", "gross_revenue", "net_revenue", "customers"), rows)
    else:
        say(f"\ndm.fct_sales, order_date = {partition}: no order was first seen that day")


def print_customers(dsn: str, first: date, last: date) -> None:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(load_query("customers_daily"), {"first": first, "last": last}).fetchall()
    table("dm.fct_customers_daily", ("report_date", "orders", "customers", "new_customers", "returning_customers",
                                     "net_revenue", "avg_order_value"), rows)


def print_price_history(dsn: str, first: date, last: date) -> None:
    """The history of the product whose price moved most often in the period."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute(load_query("busiest_product"), {"first": first, "last": last}).fetchone()
        if not found:
            return
        rows = conn.execute(load_query("product_history"), {"product_id": found[0]}).fetchall()
    table(f"dm.dim_product_history, product {found[0]} ({found[1]}): {found[2]} price changes from {first} to {last}",
          ("valid_from", "valid_to", "price", "stock", "availability_status", "category"), rows)
