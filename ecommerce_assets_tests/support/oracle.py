"""The ODS contract and the mart, written again in plain Python from the README's rules.

Shares no code with the pipeline (no DuckDB, no SQL, no import from `ecommerce_assets`): the records are
read from the exact bytes the API sent, with the standard library's JSON decoder and `decimal`.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from typing import Any

INT64 = 2**63
INT32 = 2**31
ASCII_SPACE = " \t\n\v\f\r"
NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
# (JSON field, ODS column, scale, bound on the stored magnitude), in the order the rules judge them.
NUMERIC = (
    ("price", "price", 2, Decimal(10) ** 10),
    ("stock", "stock", 0, Decimal(INT32)),
    ("rating", "rating", 2, None),
    ("discountPercentage", "discount_percentage", 2, Decimal(10) ** 4),
    ("weight", "weight", 3, Decimal(10) ** 9),
    ("minimumOrderQuantity", "minimum_order_quantity", 0, Decimal(INT32)),
)
TEXT = (("category", "category"), ("title", "title"), ("description", "description"), ("brand", "brand"),
        ("sku", "sku"), ("availabilityStatus", "availability_status"))
RULE_SCALE = Decimal(10) ** -28  # the rules read a number to 28 decimals


class NonFinite:
    """NaN, Infinity or -Infinity: tokens some JSON writers emit."""

    def __init__(self, token: str) -> None:
        self.token = token


class NotNumeric(Exception):
    pass


@dataclass
class Expected:
    accepted: dict[int, dict[str, Any]] = field(default_factory=dict)
    rejected: dict[int, str] = field(default_factory=dict)  # record position -> reason
    superseded: int = 0


def decode(data: bytes) -> Any:
    """A record as Python values: bytes that are not UTF-8 become lone surrogates (as would a lone
    surrogate escape); floats stay exact decimals."""
    return json.loads(data.decode("utf-8", "surrogateescape"), parse_float=Decimal, parse_constant=NonFinite)


def has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(has_surrogate(k) or has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_surrogate(v) for v in value)
    return False


def integer_id(record: Any) -> int | None:
    if isinstance(record, dict):
        value = record.get("id")
        if type(value) is int and -INT64 <= value < INT64:
            return value
    return None


def number(value: Any) -> Decimal | None:
    """None for absent/null/blank, the exact value of a number or numeric string, NotNumeric otherwise."""
    if value is None:
        return None
    if isinstance(value, (bool, dict, list, NonFinite)):
        raise NotNumeric
    if isinstance(value, str):
        text = value.strip(ASCII_SPACE)
        if not text:
            return None
        if not NUMBER.fullmatch(text):
            raise NotNumeric
        exact = Decimal(text)
    else:
        exact = Decimal(value)
    try:
        finite = float(exact) not in (float("inf"), float("-inf"))
    except OverflowError:
        finite = False
    if not finite:
        raise NotNumeric
    return exact


def rule_reading(exact: Decimal) -> Decimal | float:
    """What the sign, whole-number and range rules look at."""
    rounded = exact.quantize(RULE_SCALE, ROUND_HALF_UP) if abs(exact) < Decimal(10) ** 10 else None
    if rounded is None or abs(rounded) >= Decimal(10) ** 10:
        return float(exact)
    return rounded


def stored(exact: Decimal, scale: int) -> Decimal:
    return exact.quantize(Decimal(10) ** -scale, ROUND_HALF_UP)


def whole(value: Decimal | float) -> bool:
    return value == int(value)


def judge(record: dict[str, Any], timestamps: dict[str, datetime | None]) -> tuple[str | None, dict[str, Any]]:
    """(reason, row) of a record that has an integer id; `timestamps` maps the strings that are valid
    timestamps to their instant (None for strings that are not)."""
    if has_surrogate(record):
        return "text_invalid_unicode", {}
    values: dict[str, Decimal | None] = {}
    for name, column, _, _ in NUMERIC:
        try:
            values[column] = number(record.get(name))
        except (NotNumeric, InvalidOperation):
            return f"{column}_not_numeric", {}
    read = {c: None if v is None else rule_reading(v) for c, v in values.items()}
    if read["price"] is not None and read["price"] < 0:
        return "price_negative", {}
    if read["stock"] is not None and read["stock"] < 0:
        return "stock_negative", {}
    if read["stock"] is not None and not whole(read["stock"]):
        return "stock_not_whole", {}
    if read["rating"] is not None and not 0 <= read["rating"] <= 5:
        return "rating_out_of_range", {}
    if read["minimum_order_quantity"] is not None and not whole(read["minimum_order_quantity"]):
        return "minimum_order_quantity_not_whole", {}
    row: dict[str, Any] = {}
    for _, column, scale, bound in NUMERIC:
        exact = values[column]
        if exact is None:
            row[column] = None
            continue
        value = stored(exact, scale)
        if bound is not None and abs(value) >= bound:
            return f"{column}_out_of_range", {}
        row[column] = int(value) if scale == 0 else value
    for name, column in TEXT:
        if record.get(name) is not None and not isinstance(record.get(name), str):
            return f"{column}_not_text", {}
        row[column] = record.get(name)
    tags = record.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        return "tags_not_text_list", {}
    if any("\x00" in (row[c] or "") for _, c in TEXT) or any("\x00" in t for t in tags or []):
        return "text_contains_nul", {}
    row["tags"] = tags
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    for name, column in (("createdAt", "created_at"), ("updatedAt", "updated_at")):
        value = meta.get(name)
        if value is None:
            row[column] = None
        elif isinstance(value, str) and timestamps.get(value) is not None:
            row[column] = timestamps[value]
        else:
            return f"{column}_not_timestamp", {}
    category = (row["category"] or "").strip(ASCII_SPACE)
    row["category"] = category or "unknown"
    return None, row


def expected_ods(texts: list[bytes], timestamps: dict[str, datetime | None]) -> Expected:
    """The ODS of a catalog served as `texts`: accepted rows by id, rejected record positions with their
    reason, and the number of records superseded by a later record with the same id."""
    with localcontext(Context(prec=2000, Emax=10**6, Emin=-(10**6))):
        return _expected_ods([decode(t) for t in texts], timestamps)


def _expected_ods(decoded: list[Any], timestamps: dict[str, datetime | None]) -> Expected:
    latest: dict[int, int] = {}
    result = Expected()
    for position, record in enumerate(decoded):
        pid = integer_id(record)
        if pid is None:
            if has_surrogate(record):
                result.rejected[position] = "text_invalid_unicode"
            elif not isinstance(record, dict):
                result.rejected[position] = "not_an_object"
            elif record.get("id") is None:
                result.rejected[position] = "missing_id"
            else:
                result.rejected[position] = "id_not_integer"
            continue
        if pid in latest:
            result.superseded += 1
        latest[pid] = position
    for pid, position in latest.items():
        reason, row = judge(decoded[position], timestamps)
        if reason is None:
            result.accepted[pid] = row
        else:
            result.rejected[position] = reason
    return result


def half_up_cents(total: Decimal, count: int) -> Decimal:
    return (total / count).quantize(Decimal("0.01"), ROUND_HALF_UP)


def expected_mart(accepted: dict[int, dict[str, Any]]) -> list[tuple[str, int, int, Decimal | None, Decimal | None]]:
    """(category, product_count, total_stock, avg_price, avg_rating) in category order (bytewise)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in accepted.values():
        groups.setdefault(row["category"], []).append(row)
    result = []
    for category in sorted(groups, key=lambda c: c.encode("utf-8")):
        rows = groups[category]
        prices = [r["price"] for r in rows if r["price"] is not None]
        ratings = [r["rating"] for r in rows if r["rating"] is not None]
        result.append((
            category, len(rows), sum(r["stock"] or 0 for r in rows),
            half_up_cents(sum(prices, Decimal(0)), len(prices)) if prices else None,
            half_up_cents(sum(ratings, Decimal(0)), len(ratings)) if ratings else None,
        ))
    return result
