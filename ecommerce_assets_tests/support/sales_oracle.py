"""What the sales domain must hold, computed with the standard library only (no pipeline code): the cart rules
record by record, and the marts from the days loaded — as if every day had been loaded in date order.

Carts: a cart breaking any rule is rejected whole with the first rule it breaks (the order documented in
docs/data-quality.md); amounts are compared exactly, each read to 18 decimals (half away from zero)."""

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

CENT = Decimal("0.01")
INTEGER = re.compile(r"-?[0-9]+")
NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
ASCII_SPACE = " \t\n\x0b\x0c\r"
INT64 = (-(2**63), 2**63 - 1)


class _Missing:
    """A value that can never be a number (a boolean, an object, a list, NaN, text not in JSON's spelling)."""


MISSING = _Missing()
NOT_A_NUMBER = MISSING
WIDE = Context(prec=2000, Emax=10**6, Emin=-(10**6), rounding=ROUND_HALF_UP)


def dumps(record: Any) -> str:
    """A record as a server writes it (the rules read its text)."""
    return json.dumps(record)


def decode(text: str) -> Any:
    """JSON with every number exact (a Decimal) and NaN/Infinity kept apart."""
    return json.loads(text, parse_float=Decimal, parse_constant=lambda _: NOT_A_NUMBER)


def has_lone_surrogate(value: Any) -> bool:
    """Text no UTF-8 database can store, anywhere in a decoded record."""
    if isinstance(value, str):
        return any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_lone_surrogate(v) for v in value)
    return False


def _number(value: Any) -> Decimal | _Missing | None:
    """A field as a number: None when absent, null or an empty (ASCII-trimmed) string."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        return NOT_A_NUMBER
    if isinstance(value, str):
        text = value.strip(ASCII_SPACE)
        if not text:
            return None
        if not NUMBER.fullmatch(text):
            return NOT_A_NUMBER
        value = Decimal(text)
    number = Decimal(value)
    return number if abs(float(number)) != float("inf") else NOT_A_NUMBER


def _places(value: Decimal, places: int) -> Decimal:
    return WIDE.quantize(value, Decimal(1).scaleb(-places)) if places else WIDE.quantize(value, Decimal(1))


def _exact(value: Decimal) -> Decimal | None:
    """The rules' exact reading: 28 decimals, None at 1e10 or more."""
    rounded = _places(value, 28)
    return rounded if abs(rounded) < Decimal(10) ** 10 else None


def _integer(value: Any) -> int | None:
    """A JSON integer that fits BIGINT (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if INT64[0] <= value <= INT64[1] else None


@dataclass(frozen=True)
class Line:
    cart_id: int
    line_no: int
    user_id: int
    product_id: int
    title: str | None
    price: Decimal
    quantity: int
    total: Decimal
    discount_percentage: Decimal | None
    discounted_total: Decimal


def _line_reason(line: Any) -> str | None:
    if not isinstance(line, dict):
        return "line_not_an_object"
    if line.get("id") is None:
        return "product_id_missing"
    if _integer(line["id"]) is None:
        return "product_id_not_integer"
    title = line.get("title")
    if title is not None and not isinstance(title, str):
        return "title_not_text"
    if isinstance(title, str) and "\x00" in title:
        return "text_contains_nul"
    numbers: dict[str, Decimal] = {}
    for field, name in (("price", "price"), ("quantity", "quantity"), ("total", "total"),
                        ("discountedTotal", "discounted_total")):
        number = _number(line.get(field))
        if number is None:
            return f"{name}_missing"
        if isinstance(number, _Missing):
            return f"{name}_not_numeric"
        numbers[name] = number
    discount = _number(line.get("discountPercentage"))
    if isinstance(discount, _Missing):
        return "discount_percentage_not_numeric"
    price, quantity, total, discounted = (numbers[n] for n in ("price", "quantity", "total", "discounted_total"))
    price_exact = _exact(price)
    if (price_exact < 0) if price_exact is not None else float(price) < 0:
        return "price_negative"
    if float(quantity) >= 2147483648:
        return "quantity_out_of_range"
    quantity_exact = _exact(quantity)
    if quantity_exact is None or quantity_exact != quantity_exact.to_integral_value() or quantity_exact < 1:
        return "quantity_not_whole"
    if abs(_places(price, 2)) >= Decimal(10) ** 10:
        return "price_out_of_range"
    if abs(_places(total, 2)) >= Decimal(10) ** 12:
        return "total_out_of_range"
    if abs(_places(discounted, 2)) >= Decimal(10) ** 12:
        return "discounted_total_out_of_range"
    if discount is not None and abs(_places(discount, 2)) >= 1000:
        return "discount_percentage_out_of_range"
    if abs(_places(total, 18) - _places(price, 18) * _places(quantity, 0)) > CENT:
        return "line_total_mismatch"
    return None


def cart_reason(record: Any) -> str | None:
    """Why a decoded cart record (whose `id` is an integer) is rejected, None when accepted."""
    user = record.get("userId")
    if user is None:
        return "user_id_missing"
    if _integer(user) is None:
        return "user_id_not_integer"
    lines = record.get("products")
    if not isinstance(lines, list):
        return "lines_not_a_list"
    if not lines:
        return "lines_empty"
    for line in lines:
        reason = _line_reason(line)
        if reason is not None:
            return reason
    tolerance = CENT * len(lines)
    for field, name in (("total", "cart_total"), ("discountedTotal", "cart_discounted_total")):
        number = _number(record.get(field))
        if number is None or isinstance(number, _Missing):
            return f"{name}_not_numeric"
    for field, name in (("total", "cart_total"), ("discountedTotal", "cart_discounted_total")):
        stated = _places(_number(record[field]), 18)  # type: ignore[arg-type]
        summed = sum((_places(_number(line[field]), 18) for line in lines), Decimal(0))  # type: ignore[arg-type]
        if abs(stated) >= Decimal(10) ** 20 or abs(stated - summed) > tolerance:
            return f"{name}_mismatch"
    return None


@dataclass(frozen=True)
class CartsDay:
    lines: list[Line]
    rejected: dict[int, str]  # record_index -> reason
    superseded: int  # records superseded by a later record of the same cart


def check_carts(texts: list[str]) -> CartsDay:
    """The cart rules over one snapshot's records (their JSON texts, in order)."""
    decoded: list[Any] = []
    for text in texts:
        try:
            decoded.append(decode(text))
        except ValueError:
            decoded.append(MISSING)
    ids = [_integer(r.get("id")) if isinstance(r, dict) else None for r in decoded]
    latest = {cart: i for i, cart in enumerate(ids) if cart is not None}
    lines: list[Line] = []
    rejected: dict[int, str] = {}
    superseded = 0
    for index, (record, cart) in enumerate(zip(decoded, ids, strict=True)):
        if cart is not None and latest[cart] != index:
            superseded += 1
            continue
        if isinstance(record, _Missing):
            rejected[index] = "invalid_json"
            continue
        if has_lone_surrogate(record):
            rejected[index] = "text_invalid_unicode"
            continue
        if not isinstance(record, dict):
            rejected[index] = "not_an_object"
            continue
        if cart is None:
            rejected[index] = "missing_id" if record.get("id") is None else "id_not_integer"
            continue
        reason = cart_reason(record)
        if reason is not None:
            rejected[index] = reason
            continue
        for number, line in enumerate(record["products"], start=1):
            discount = _number(line.get("discountPercentage"))
            lines.append(Line(
                cart_id=cart, line_no=number, user_id=int(record["userId"]), product_id=int(line["id"]),
                title=line.get("title"), price=_places(_number(line["price"]), 2),  # type: ignore[arg-type]
                quantity=int(_places(_number(line["quantity"]), 0)),  # type: ignore[arg-type]
                total=_places(_number(line["total"]), 2),  # type: ignore[arg-type]
                discount_percentage=None if discount is None else _places(discount, 2),  # type: ignore[arg-type]
                discounted_total=_places(_number(line["discountedTotal"]), 2)))  # type: ignore[arg-type]
    return CartsDay(lines, rejected, superseded)


@dataclass(frozen=True)
class Marts:
    orders: dict[int, tuple[date, int, int, int, Decimal, Decimal]]  # id -> date, user, lines, units, gross, net
    sales: dict[tuple[date, str], tuple[int, int, Decimal, Decimal, int]]  # (date, category) -> figures
    customers: dict[date, tuple[int, int, int, int, Decimal, Decimal]]  # date -> orders, customers, new, returning, net, aov


def category_as_of(products: dict[date, dict[int, str]], product_id: int, day: date) -> str:
    """The product's category on `day`: from the latest loaded product snapshot on or before it, when the
    product is in that snapshot ('(unknown)' otherwise)."""
    earlier = [d for d in products if d <= day]
    if not earlier:
        return "(unknown)"
    return products[max(earlier)].get(product_id, "(unknown)")


def marts(cart_days: dict[date, list[Line]], products: dict[date, dict[int, str]]) -> Marts:
    """The marts from the carts and product categories of the days loaded (accepted lines only)."""
    first: dict[int, tuple[date, list[Line]]] = {}
    for day in sorted(cart_days):
        by_cart: dict[int, list[Line]] = defaultdict(list)
        for line in cart_days[day]:
            by_cart[line.cart_id].append(line)
        for cart, lines in by_cart.items():
            first.setdefault(cart, (day, sorted(lines, key=lambda x: x.line_no)))
    orders = {cart: (day, lines[0].user_id, len(lines), sum(x.quantity for x in lines),
                     sum((x.total for x in lines), Decimal(0)), sum((x.discounted_total for x in lines), Decimal(0)))
              for cart, (day, lines) in first.items()}
    sales_sets: dict[tuple[date, str], list[Any]] = defaultdict(lambda: [set(), 0, Decimal(0), Decimal(0), set()])
    for cart, (day, lines) in first.items():
        for line in lines:
            row = sales_sets[(day, category_as_of(products, line.product_id, day))]
            row[0].add(cart)
            row[1] += line.quantity
            row[2] += line.total
            row[3] += line.discounted_total
            row[4].add(line.user_id)
    sales = {key: (len(v[0]), v[1], v[2], v[3], len(v[4])) for key, v in sales_sets.items()}
    first_order: dict[int, date] = {}
    for day, user, *_ in orders.values():
        first_order[user] = min(first_order.get(user, day), day)
    customers: dict[date, tuple[int, int, int, int, Decimal, Decimal]] = {}
    by_day: dict[date, list[tuple[int, Decimal]]] = defaultdict(list)
    for day, user, _lines, _units, _gross, net in orders.values():
        by_day[day].append((user, net))
    for day, entries in by_day.items():
        users = {user for user, _ in entries}
        new = sum(1 for user in users if first_order[user] == day)
        net = sum((n for _, n in entries), Decimal(0))
        customers[day] = (len(entries), len(users), new, len(users) - new, net,
                          (net / len(entries)).quantize(CENT, rounding=ROUND_HALF_UP))
    return Marts(orders, sales, customers)
