"""The cart rules (DuckDB in memory, no Dagster) against the oracle written with the standard library only: on
generated carts — any shape a real API could send — the accepted lines and every rejection reason are the
oracle's; on the real service's carts, nothing is rejected; and a user record keeps nothing personal."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecommerce_assets.defs.sales.transforms.carts import checked_carts
from ecommerce_assets.defs.sales.transforms.users import KEPT, customer_key, reduce_user
from ecommerce_assets.transforms.raw_snapshot import raw_schema
from ecommerce_assets_tests.support import sales_oracle as oracle
from ecommerce_assets_tests.support.helpers import REAL_SERVICE, examples
from ecommerce_catalog_server.shop import DailyCarts, RealService, generate_user

DAY = date(2025, 5, 1)
REAL = REAL_SERVICE


def raw_rows(texts: list[str]) -> pa.Table:
    """Raw snapshot rows as the raw layer stores them (its id: the record's integer `id`, last one wins)."""
    def cart_id(text: str) -> int | None:
        try:
            record = json.loads(text)
        except ValueError:
            return None
        value = record.get("id") if isinstance(record, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63 else None

    n = len(texts)
    return pa.table({"record_index": range(n), "cart_id": [cart_id(t) for t in texts], "skip": [0] * n,
                     "fetched_at": [datetime(2025, 5, 1, tzinfo=UTC)] * n, "source_url": ["test"] * n,
                     "record_json": texts}, schema=raw_schema("cart_id"))


def run_rules(texts: list[str]) -> tuple[list[tuple[Any, ...]], dict[int, str], int, int]:
    with checked_carts(duckdb.connect(), raw_rows(texts), DAY) as checked:
        lines = checked.lines.read_all().to_pylist()
        rejected = {r["record_index"]: r["reason"] for r in checked.rejected.to_pylist()}
        return ([(r["cart_id"], r["line_no"], r["user_id"], r["product_id"], r["title"], r["price"], r["quantity"],
                  r["total"], r["discount_percentage"], r["discounted_total"]) for r in lines],
                rejected, checked.superseded_lines, checked.raw_lines)


def oracle_lines(day: oracle.CartsDay) -> list[tuple[Any, ...]]:
    return sorted((x.cart_id, x.line_no, x.user_id, x.product_id, x.title, x.price, x.quantity, x.total,
                   x.discount_percentage, x.discounted_total) for x in day.lines)


def assert_like_oracle(texts: list[str]) -> tuple[oracle.CartsDay, dict[int, str], int, int]:
    """The rules' accepted lines and reasons are the oracle's; returns the oracle's day and the rules' own
    rejections, superseded lines and listed lines."""
    expected = oracle.check_carts(texts)
    lines, rejected, superseded_lines, raw_lines = run_rules(texts)
    assert rejected == expected.rejected
    assert sorted(lines) == oracle_lines(expected)
    return expected, rejected, superseded_lines, raw_lines


NUMBERS = st.one_of(
    st.decimals(min_value=-5, max_value=10**6, places=2, allow_nan=False).map(float),
    st.integers(-3, 20), st.sampled_from(["12.50", " 3 ", "", "1e2", "12,50", "NaN", "0x10", "-0", "1.005"]),
    st.none(), st.booleans(), st.just([1]), st.floats(allow_nan=False, allow_infinity=False, width=32),
)


@st.composite
def lines(draw: st.DrawFn) -> Any:
    price = draw(st.decimals(min_value=0, max_value=5000, places=2))
    quantity = draw(st.integers(1, 9))
    total = price * quantity
    line: dict[str, Any] = {"id": draw(st.integers(1, 300)), "title": draw(st.text(max_size=12)),
                            "price": float(price), "quantity": quantity, "total": float(total),
                            "discountPercentage": float(draw(st.decimals(min_value=0, max_value=30, places=2))),
                            "discountedTotal": float(total * Decimal("0.9"))}
    for field in draw(st.lists(st.sampled_from(sorted(line)), max_size=2)):  # spoil a field or two
        line[field] = draw(NUMBERS | st.text(max_size=5))
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([None, 7, "line", [1, 2]]))
    return line


@st.composite
def carts(draw: st.DrawFn) -> str:
    items = draw(st.lists(lines(), max_size=5))
    cart: dict[str, Any] = {"id": draw(st.integers(1, 12)), "products": items,
                            "userId": draw(st.integers(1, 50) | st.sampled_from([None, "7", 1.5]))}
    totals = [i for i in items if isinstance(i, dict)]
    try:
        cart["total"] = float(sum(Decimal(str(i.get("total"))) for i in totals))
        cart["discountedTotal"] = float(sum(Decimal(str(i.get("discountedTotal"))) for i in totals))
    except Exception:
        cart["total"] = cart["discountedTotal"] = "n/a"
    if draw(st.integers(0, 20)) == 0:
        cart["total"] = draw(NUMBERS)
    if draw(st.integers(0, 25)) == 0:
        cart.pop("id")
    if draw(st.integers(0, 25)) == 0:
        cart["products"] = {"0": items}
    if draw(st.integers(0, 30)) == 0:
        return json.dumps([cart])
    return json.dumps(cart)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(carts(), max_size=25))
def test_generated_carts_match_the_oracle(texts: list[str]) -> None:
    expected, rejected, superseded_lines, raw_lines = assert_like_oracle(texts)
    # nothing lost: accepted lines + lines of rejected carts + lines of superseded carts = every listed line
    listed = 0
    for text in texts:
        record = json.loads(text)
        listed += len(record["products"]) if isinstance(record, dict) and isinstance(record.get("products"), list) else 0
    assert raw_lines == listed
    rejected_lines = sum(len(json.loads(texts[i]).get("products") or [])
                         for i in rejected if isinstance(json.loads(texts[i]), dict)
                         and isinstance(json.loads(texts[i]).get("products"), list))
    assert len(expected.lines) + rejected_lines + superseded_lines == listed


def test_every_awkward_cart_is_rejected_with_its_own_reason() -> None:
    carts_ = DailyCarts(2000, 60, 100, DAY, awkward=True)
    texts = [json.dumps(c) for c in carts_.page(0, carts_.total())]
    expected, *_ = assert_like_oracle(texts)
    assert set(expected.rejected.values()) == {
        "line_total_mismatch", "price_negative", "quantity_not_whole", "lines_not_a_list", "user_id_missing",
        "cart_total_mismatch", "product_id_not_integer", "not_an_object"}


def test_the_real_service_carts_are_all_accepted() -> None:
    real = RealService(REAL).collection("carts")
    texts = [json.dumps(c) for c in real.page(0, real.total())]
    expected, *_ = assert_like_oracle(texts)
    assert (len(expected.lines), len(expected.rejected)) == (800, 0)


KEY = b"k" * 32


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=8) | st.integers(), max_size=6))
@settings(max_examples=examples(100), deadline=None)
def test_a_user_keeps_nothing_but_the_kept_fields(extra: dict[str, Any]) -> None:
    user = {**generate_user(7, 42), **{k: v for k, v in extra.items() if k not in KEPT}}
    kept = json.loads(reduce_user(json.dumps(user), KEY))
    assert set(kept) <= {*KEPT, "city", "state", "country", "customer_key"}
    email = user["email"]
    # an e-mail that is not text, or blank, identifies no customer
    assert kept["customer_key"] == (customer_key(email, KEY) if isinstance(email, str) and email.strip() else None)
    text = json.dumps(kept)
    for field in ("firstName", "lastName", "email", "phone", "password", "ssn", "ip", "macAddress", "username"):
        value = str(user[field])
        # a value short enough to occur anywhere by chance ('' in every text, '7' in the id) marks nothing;
        # the generated user's own values are long and unique
        assert len(value) < 8 or value not in text, field


def test_customer_keys_ignore_case_and_spaces_and_need_the_key() -> None:
    assert customer_key("  Emily.Johnson@X.dummyjson.com ", KEY) == customer_key("emily.johnson@x.dummyjson.com", KEY)
    assert customer_key("a@b.c", KEY) != customer_key("a@b.c", b"x" * 32)
    assert json.loads(reduce_user('"a string"', KEY)) == {"problem": "not_an_object"}
    assert json.loads(reduce_user('{"email": 5, "age": {"ssn": "1"}}', KEY)) == {"age": {}, "customer_key": None}
