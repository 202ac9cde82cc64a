"""The ODS rules, the raw rows and the mart arithmetic as pure functions (DuckDB in memory, no Dagster)."""

import json
import random
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from ecommerce_assets.defs.products.transforms.mart import build_mart, mart_markdown
from ecommerce_assets.defs.products.transforms.rules import BATCH_ROWS
from ecommerce_assets.transforms.fetch_window import late_fetch_problem
from ecommerce_assets.transforms.raw_snapshot import (
    RAW_SCHEMA,
    DuckDBPageParser,
    PageShapeError,
    integer_id,
    page_batch,
    record_json,
    records_table,
)
from ecommerce_assets_tests.support.rules import CleanedProducts, clean_products

DAY = date(2025, 3, 14)
FETCHED = datetime(2025, 3, 15, 5, 0, tzinfo=UTC)


def clean(records: list[Any]) -> CleanedProducts:
    batch = page_batch(records_table(records), first_index=0, skip=0, fetched_at=FETCHED, source_url="http://api/products")
    return clean_products(duckdb.connect(), pa.Table.from_batches([batch]), DAY)


def accepted_row(record: dict[str, Any]) -> dict[str, Any]:
    result = clean([record])
    assert result.rejected.num_rows == 0, result.rejected.to_pylist()
    (row,) = result.accepted.to_pylist()
    return row


def rejection(record: Any) -> str:
    result = clean([record])
    assert result.accepted.num_rows == 0, result.accepted.to_pylist()
    (row,) = result.rejected.to_pylist()
    return str(row["reason"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        (12, Decimal("12.00")),
        (9.99, Decimal("9.99")),
        ("9.99", Decimal("9.99")),
        (" 9.99 ", Decimal("9.99")),
        ("1e3", Decimal("1000.00")),
        (0, Decimal("0.00")),
        (9.995, Decimal("10.00")),  # half-up to the column's scale
        (9999999999.99, Decimal("9999999999.99")),
    ],
)
def test_price_coercion(value: Any, expected: Decimal | None) -> None:
    assert accepted_row({"id": 1, "price": value})["price"] == expected


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("price", "12,50", "price_not_numeric"),
        ("price", "abc", "price_not_numeric"),
        ("price", True, "price_not_numeric"),
        ("price", [1], "price_not_numeric"),
        ("price", {"amount": 1}, "price_not_numeric"),
        ("price", "NaN", "price_not_numeric"),
        ("price", float("inf"), "price_not_numeric"),
        ("price", -0.01, "price_negative"),
        ("price", "-5", "price_negative"),
        ("price", 1e12, "price_out_of_range"),
        ("price", 9999999999.996, "price_out_of_range"),
        ("stock", -1, "stock_negative"),
        ("stock", 4.5, "stock_not_whole"),
        ("stock", "4.5", "stock_not_whole"),
        ("stock", "many", "stock_not_numeric"),
        ("stock", 2**31, "stock_out_of_range"),
        ("rating", 5.01, "rating_out_of_range"),
        ("rating", -0.5, "rating_out_of_range"),
        ("rating", "x", "rating_not_numeric"),
        ("discountPercentage", "ten", "discount_percentage_not_numeric"),
        ("discountPercentage", 123456, "discount_percentage_out_of_range"),
        ("weight", False, "weight_not_numeric"),
        ("minimumOrderQuantity", 1.5, "minimum_order_quantity_not_whole"),
        ("category", 5, "category_not_text"),
        ("category", ["a"], "category_not_text"),
        ("title", {"en": "x"}, "title_not_text"),
        ("title", "nul\u0000inside", "text_contains_nul"),
        ("tags", ["a\u0000b"], "text_contains_nul"),
        ("meta", {"createdAt": "not a date"}, "created_at_not_timestamp"),
        ("meta", {"updatedAt": 17}, "updated_at_not_timestamp"),
    ],
)
def test_rejection_reasons(field: str, value: Any, reason: str) -> None:
    assert rejection({"id": 1, field: value}) == reason


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"title": "no id"}, "missing_id"),
        ({"id": None}, "missing_id"),
        ({"id": True}, "id_not_integer"),
        ({"id": "5"}, "id_not_integer"),
        ({"id": 5.0}, "id_not_integer"),
        ({"id": 2**70}, "id_not_integer"),
        ("a string", "not_an_object"),
        ([1, 2], "not_an_object"),
    ],
)
def test_records_without_an_integer_id_are_rejected(record: Any, reason: str) -> None:
    assert rejection(record) == reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("beauty", "beauty"),
        ("  beauty\t", "beauty"),
        ("\n", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
        ("Home Decor", "Home Decor"),
        ("O'Reilly; DROP TABLE x;--", "O'Reilly; DROP TABLE x;--"),
    ],
)
def test_category_rules(value: Any, expected: str) -> None:
    assert accepted_row({"id": 1, "category": value})["category"] == expected


def test_missing_category_is_unknown() -> None:
    assert accepted_row({"id": 1})["category"] == "unknown"


def test_stock_whole_numbers_in_any_spelling() -> None:
    assert [accepted_row({"id": 1, "stock": v})["stock"] for v in (3, 3.0, "3", " 3 ", "3.0", None, "")] == \
        [3, 3, 3, 3, 3, None, None]


def test_typed_row_keeps_every_column() -> None:
    row = accepted_row({
        "id": 7, "title": "Lamp", "description": "A lamp", "category": "home", "brand": "Acme", "sku": "L-1",
        "price": "19.90", "discountPercentage": 5.5, "rating": 4.25, "stock": 3, "availabilityStatus": "In Stock",
        "tags": ["home", "light"], "weight": 2, "minimumOrderQuantity": 10,
        "meta": {"createdAt": "2024-05-23T08:56:21.618Z", "updatedAt": "2024-05-23T10:56:21+02:00"},
        "unknownField": {"nested": True},
    })
    assert row == {
        "snapshot_date": DAY, "product_id": 7, "title": "Lamp", "description": "A lamp", "category": "home",
        "brand": "Acme", "sku": "L-1", "price": Decimal("19.90"), "discount_percentage": Decimal("5.50"),
        "rating": Decimal("4.25"), "stock": 3, "availability_status": "In Stock", "tags": '["home","light"]',
        "weight": Decimal("2.000"), "minimum_order_quantity": 10,
        "created_at": datetime(2024, 5, 23, 8, 56, 21, 618000, tzinfo=UTC),
        "updated_at": datetime(2024, 5, 23, 8, 56, 21, tzinfo=UTC),
    }


def test_later_duplicate_wins_even_when_invalid() -> None:
    result = clean([
        {"id": 1, "stock": 1, "category": "a"},
        {"id": 2, "stock": 2, "category": "a"},
        {"id": 1, "stock": 10, "category": "b"},    # later copy wins
        {"id": 2, "stock": -1, "category": "a"},    # later copy invalid: the product is rejected
    ])
    assert [(r["product_id"], r["stock"], r["category"]) for r in result.accepted.to_pylist()] == [(1, 10, "b")]
    assert [(r["record_index"], r["reason"]) for r in result.rejected.to_pylist()] == [(3, "stock_negative")]
    assert result.duplicates == 2


@pytest.mark.parametrize("arrival", ["ascending", "descending", "shuffled", "ascending, the first id again last",
                                     "ascending but two ids swapped across the first batch's end"])
def test_accepted_rows_come_out_in_product_id_order_however_records_arrive(arrival: str) -> None:
    """The rules skip their sort when the records arrived in id order (the API's own paging): the rows and their
    order are the same either way, across DuckDB's vector (2,048) and the stream's batch (16,384) sizes."""
    count = 20_000 if "batch" in arrival else 5_000
    ids = list(range(1, count + 1))
    if "swapped" in arrival:
        ids[BATCH_ROWS - 1], ids[BATCH_ROWS] = ids[BATCH_ROWS], ids[BATCH_ROWS - 1]
    elif arrival == "descending":
        ids.reverse()
    elif arrival == "shuffled":
        random.Random(7).shuffle(ids)
    elif arrival.endswith("again last"):
        ids.append(1)  # later wins: product 1's row is the table's last
    result = clean([{"id": i, "stock": i % 7, "category": f"c{i % 3}"} for i in ids])
    rows = result.accepted.to_pylist()
    assert [r["product_id"] for r in rows] == list(range(1, count + 1))
    assert all(r["stock"] == r["product_id"] % 7 for r in rows)


def test_schema_drift_is_reported() -> None:
    result = clean([{"id": 1, "price": 1, "colour": "red"}, {"id": 2, "price": 2, "size": "L"}])
    assert result.new_fields == ["colour", "size"]
    assert "thumbnail" in result.missing_fields and "price" not in result.missing_fields


def test_rejected_share() -> None:
    result = clean([{"id": 1}, {"id": 2}, {"id": 3, "price": -1}, {"title": "x"}])
    assert result.accepted.num_rows == 2 and result.rejected.num_rows == 2
    assert result.rejected_share == 0.5
    assert result.rejected_by_reason == {"missing_id": 1, "price_negative": 1}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"id": 1}, 1),
        ({"id": -4}, -4),
        ({"id": True}, None),
        ({"id": "1"}, None),
        ({"id": 1.0}, None),
        ({"id": 2**63}, None),
        ({}, None),
        ("x", None),
    ],
)
def test_integer_id(record: Any, expected: int | None) -> None:
    assert integer_id(record) == expected


def test_raw_rows_keep_any_record() -> None:
    records: list[Any] = [{"id": 1, "odd": [1, {"x": None}], "price": "1"}, "not an object", None, {"id": "\ud800"},
                          {"id": 2, "big": 10**30, "emoji": "🛒"}]
    batch = page_batch(records_table(records), first_index=100, skip=40, fetched_at=FETCHED, source_url="u")
    assert batch.schema == RAW_SCHEMA
    assert batch.column("record_index").to_pylist() == [100, 101, 102, 103, 104]
    assert batch.column("product_id").to_pylist() == [1, None, None, None, 2]
    assert batch.column("skip").to_pylist() == [40] * 5
    assert [json.loads(t) for t in batch.column("record_json").to_pylist()] == records


def test_record_json_preserves_types_and_order() -> None:
    assert record_json({"b": 1, "a": "1", "c": 1.5, "d": None, "e": True}) == '{"b":1,"a":"1","c":1.5,"d":null,"e":true}'


@pytest.mark.parametrize(
    ("partition", "today", "problem"),
    [
        (date(2025, 3, 14), date(2025, 3, 15), None),
        (date(2025, 3, 14), date(2025, 3, 14), None),
        (date(2025, 3, 14), date(2025, 3, 17), None),
        (date(2025, 3, 14), date(2025, 3, 18), "4 days old"),
        (date(2025, 3, 14), date(2025, 3, 13), "in the future"),
    ],
)
def test_late_fetch_window(partition: date, today: date, problem: str | None) -> None:
    message = late_fetch_problem(partition, today, 3)
    assert (message is None) if problem is None else (message is not None and problem in message)


def ods(rows: list[tuple[str, str | None, int | None, str | None]]) -> pa.Table:
    return pa.table({
        "product_id": pa.array(range(1, len(rows) + 1), pa.int64()),
        "category": pa.array([r[0] for r in rows], pa.string()),
        "price": pa.array([None if r[1] is None else Decimal(r[1]) for r in rows], pa.decimal128(12, 2)),
        "stock": pa.array([r[2] for r in rows], pa.int32()),
        "rating": pa.array([None if r[3] is None else Decimal(r[3]) for r in rows], pa.decimal128(3, 2)),
        "discount_percentage": pa.array([None if len(r) < 5 or r[4] is None else Decimal(r[4]) for r in rows],
                                        pa.decimal128(6, 2)),
    })


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # half-up: 1.505 -> 1.51, 4.985 -> 4.99
        ([("a", "1.00", 1, "4.99"), ("a", "2.01", None, "4.98")], [("a", 2, 1, "1.51", "4.99")]),
        # every stock null -> 0; every price null -> NULL average
        ([("b", None, None, None)], [("b", 1, 0, None, None)]),
        # averages over non-null values only
        ([("c", "10.00", 5, None), ("c", None, 7, "3.00"), ("c", "20.00", None, "4.00")], [("c", 3, 12, "15.00", "3.50")]),
        # 0.005 boundary, exact in decimals
        ([("d", "0.01", 0, "0.01"), ("d", "0.00", 0, "0.00")], [("d", 2, 0, "0.01", "0.01")]),
        # two categories, ordered
        ([("z", "1.00", 1, "1.00"), ("y", "3.33", 2, "2.00"), ("y", "3.33", 3, "2.00"), ("y", "3.34", 4, "2.00")],
         [("y", 3, 9, "3.33", "2.00"), ("z", 1, 1, "1.00", "1.00")]),
        ([], []),
    ],
)
def test_mart_arithmetic(rows: list[Any], expected: list[Any]) -> None:
    mart = build_mart(duckdb.connect(), ods(rows), DAY)
    assert [
        (r["category"], r["product_count"], r["total_stock"],
         None if r["avg_price"] is None else str(r["avg_price"]), None if r["avg_rating"] is None else str(r["avg_rating"]))
        for r in mart.to_pylist()
    ] == expected
    assert set(mart.column("report_date").to_pylist()) <= {DAY}


@pytest.mark.parametrize(
    ("rows", "price_changed", "expected"),
    [
        # out of stock counts stock = 0 only (not NULL); inventory value over products with price and stock
        ([("a", "1.50", 0, None, "10.00"), ("a", "2.25", 4, None, "-5.00"), ("a", None, 9, None, None),
          ("a", "3.00", None, None, "0.01")], [2], [("a", 1, "9.00", "1.67", 1)]),
        # discounts: half away from zero on the magnitude, both signs; no discount -> NULL
        ([("b", "1.00", 1, None, "-0.01"), ("b", "1.00", 1, None, "-0.02")], [], [("b", 0, "2.00", "-0.02", 0)]),
        ([("c", "1.00", 1, None, "0.01"), ("c", "1.00", 1, None, "0.02")], [1, 2], [("c", 0, "2.00", "0.02", 2)]),
        ([("d", None, 0, None, None)], [7], [("d", 1, "0.00", None, 0)]),
        # the largest price and stock the ODS accepts, twice: a value no DECIMAL(18) holds (found by hypothesis)
        ([("e", "9999999999.99", 2147483647, None, None), ("e", "9999999999.99", 2147483647, None, None)], [],
         [("e", 0, "42949672939957050327.06", None, 0)]),
    ],
)
def test_mart_stock_value_discount_and_price_changes(rows: list[Any], price_changed: list[int],
                                                      expected: list[Any]) -> None:
    changed = pa.table({"product_id": pa.array(price_changed, pa.int64())})
    mart = build_mart(duckdb.connect(), ods(rows), DAY, changed)
    assert [(r["category"], r["out_of_stock_count"], str(r["inventory_value"]),
             None if r["avg_discount_pct"] is None else str(r["avg_discount_pct"]), r["price_changes"])
            for r in mart.to_pylist()] == expected


def test_mart_markdown() -> None:
    mart = build_mart(duckdb.connect(), ods([("a", "1.00", 2, "3.00")]), DAY)
    assert mart_markdown(mart).splitlines()[2] == "| a | 1 | 2 | 1.00 | 3.00 | 0 | 2.00 |  | 0 |"


def parse_page(body: str) -> Any:
    return DuckDBPageParser(duckdb.connect())(body.encode("utf-8", "surrogatepass"))


def test_duckdb_page_parser_keeps_records_whole() -> None:
    page = parse_page('{"products": [{"id": 1, "p": 1.5, "big": 18446744073709551617, "huge": 1e400, "s": "é🛒"},'
                      ' {"id": "7"}, {"id": true}, 5, {"id": 9223372036854775808}], "total": 12, "skip": 0}')
    assert (page.total, page.count) == (12, 5)
    assert page.records.column("record_id").to_pylist() == [1, None, None, None, None]
    assert page.records.column("record_json").to_pylist() == [
        '{"id":1,"p":1.5,"big":18446744073709551617,"huge":1e400,"s":"é🛒"}', '{"id":"7"}', '{"id":true}', "5",
        '{"id":9223372036854775808}',
    ]


def test_duckdb_page_parser_falls_back_to_python_for_what_it_refuses() -> None:
    page = parse_page('{"products": [{"id": 3, "t": "\\ud800"}], "total": 1}')  # a lone surrogate escape
    assert page.count == 1 and page.records.column("record_id").to_pylist() == [3]
    assert json.loads(page.records.column("record_json")[0].as_py()) == {"id": 3, "t": "\ud800"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('{"products": [{"id": 1}', ValueError),            # cut short: asked for again
        ("<html>502</html>", ValueError),
        ("[1, 2]", PageShapeError),
        ('{"total": 3}', PageShapeError),
        ('{"products": [], "total": "3"}', PageShapeError),
        ('{"products": [], "total": -1}', PageShapeError),
        ('{"products": {}, "total": 1}', PageShapeError),
    ],
)
def test_duckdb_page_parser_rejects_what_is_not_a_page(body: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_page(body)


def test_page_batch_is_the_same_from_one_chunk_or_several() -> None:
    records = [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}, {"id": None}]
    whole = records_table(records)
    pieces = pa.concat_tables([whole.slice(0, 1), whole.slice(1)])
    assert pieces.column("record_json").num_chunks == 2
    made = [page_batch(rows, first_index=10, skip=10, fetched_at=FETCHED, source_url="http://api/products")
            for rows in (whole, pieces)]
    assert made[0].equals(made[1])
    assert made[0].column("product_id").to_pylist() == [1, 2, None]
    assert made[0].column("record_index").to_pylist() == [10, 11, 12]
    assert made[0].column("record_json").to_pylist() == ['{"id":1,"title":"a"}', '{"id":2,"title":"b"}', '{"id":null}']
