"""Change over time, written again in plain Python from the issue's definitions: the changes of a day, the
intervals of the history, and the mart's new columns. Shares no code with the pipeline: it reads the
catalog records as the simulator serves them (JSON round trip) and uses only `decimal`."""

import json
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

TRACKED = ("title", "category", "brand", "price", "discount_percentage", "stock", "availability_status", "rating")
CENT = Decimal("0.01")

Snapshot = dict[int, dict[str, Any]]  # product_id -> tracked attributes


def snapshot(records: list[dict[str, Any]]) -> Snapshot:
    """A day's records (as served) as the ODS holds their tracked attributes; valid records only."""
    out: Snapshot = {}
    for record in json.loads(json.dumps(records)):
        def money(value: Any) -> Decimal | None:
            return None if value is None else Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)
        category = (record.get("category") or "").strip(" \t\n\v\f\r") or "unknown"
        out[int(record["id"])] = {
            "title": record.get("title"), "category": category, "brand": record.get("brand"),
            "price": money(record.get("price")), "discount_percentage": money(record.get("discountPercentage")),
            "stock": record.get("stock"), "availability_status": record.get("availabilityStatus"),
            "rating": money(record.get("rating")),
        }
    return out


def half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def changes(day: date, current: Snapshot, previous_day: date | None,
            previous: Snapshot | None) -> set[tuple[Any, ...]]:
    """(change_date, product_id, change_type, previous_snapshot_date, old_value, new_value, price_change_pct)."""
    if previous_day is None or previous is None:
        return set()
    rows: set[tuple[Any, ...]] = set()
    for pid, now in current.items():
        before = previous.get(pid)
        if before is None:
            rows.add((day, pid, "added", previous_day, None, now["title"], None))
            continue
        old_price, new_price = before["price"], now["price"]
        if old_price is not None and new_price is not None and old_price != new_price:
            pct = half_up((new_price - old_price) * 100 / old_price) if old_price > 0 else None
            rows.add((day, pid, "price_changed", previous_day, str(old_price), str(new_price), pct))
        old_stock, new_stock = before["stock"], now["stock"]
        if old_stock is not None and new_stock is not None:
            if old_stock > 0 and new_stock == 0:
                rows.add((day, pid, "stock_out", previous_day, str(old_stock), str(new_stock), None))
            if old_stock == 0 and new_stock > 0:
                rows.add((day, pid, "restocked", previous_day, str(old_stock), str(new_stock), None))
        if before["category"] != now["category"]:
            rows.add((day, pid, "category_changed", previous_day, before["category"], now["category"], None))
    for pid, before in previous.items():
        if pid not in current:
            rows.add((day, pid, "removed", previous_day, before["title"], None, None))
    return rows


def all_changes(days: dict[date, Snapshot]) -> set[tuple[Any, ...]]:
    """The changes of every loaded day against the latest earlier loaded day."""
    ordered = sorted(days)
    rows: set[tuple[Any, ...]] = set()
    for i, day in enumerate(ordered):
        previous_day = ordered[i - 1] if i else None
        rows |= changes(day, days[day], previous_day, days[previous_day] if previous_day else None)
    return rows


def intervals(days: dict[date, Snapshot]) -> set[tuple[Any, ...]]:
    """(product_id, valid_from, valid_to, is_current, *tracked): runs of equal attributes over the loaded
    days; a day a product is absent on ends its run, and a later day present starts a new one."""
    ordered = sorted(days)
    open_runs: dict[int, tuple[date, tuple[Any, ...]]] = {}
    out: set[tuple[Any, ...]] = set()
    for day in ordered:
        current = days[day]
        for pid in list(open_runs):
            start, values = open_runs[pid]
            if pid not in current or tuple(current[pid][k] for k in TRACKED) != values:
                out.add((pid, start, day, False, *values))
                del open_runs[pid]
        for pid, attributes in current.items():
            if pid not in open_runs:
                open_runs[pid] = (day, tuple(attributes[k] for k in TRACKED))
    for pid, (start, values) in open_runs.items():
        out.add((pid, start, None, True, *values))
    return out


def mart_columns(day: date, current: Snapshot, day_changes: set[tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    """category -> (out_of_stock_count, inventory_value, avg_discount_pct, price_changes)."""
    price_changed = {row[1] for row in day_changes if row[0] == day and row[2] == "price_changed"}
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pid, attributes in current.items():
        by_category[attributes["category"]].append({**attributes, "product_id": pid})
    out = {}
    for category, products in by_category.items():
        discounts = [p["discount_percentage"] for p in products if p["discount_percentage"] is not None]
        valued = [p["price"] * p["stock"] for p in products if p["price"] is not None and p["stock"] is not None]
        out[category] = (
            sum(1 for p in products if p["stock"] == 0),
            half_up(sum(valued, Decimal(0))),
            half_up(sum(discounts, Decimal(0)) / len(discounts)) if discounts else None,
            sum(1 for p in products if p["product_id"] in price_changed),
        )
    return out
