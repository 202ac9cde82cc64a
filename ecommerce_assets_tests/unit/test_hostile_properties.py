"""Generated hostile catalogs through the raw parser, the ODS rules and the mart (DuckDB in memory), against
the independent oracle: every record accounted for, every accepted value exact, the mart to the cent."""

import json
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

from ecommerce_assets.defs.products.transforms.mart import build_mart
from ecommerce_assets.defs.products.transforms.rules import checked_products
from ecommerce_assets.transforms.raw_snapshot import page_batch, page_parser
from ecommerce_assets_tests.support import oracle
from ecommerce_assets_tests.support.helpers import examples
from ecommerce_assets_tests.support.hostile import (
    TIMESTAMPS,
    Raw,
    base_product,
    hostile_catalog,
    hostile_records,
    to_json,
)
from ecommerce_assets_tests.support.rules import CleanedProducts, clean_products

DAY = date(2025, 3, 14)
COMPARED = ("title", "description", "category", "brand", "sku", "price", "discount_percentage", "rating", "stock",
            "availability_status", "tags", "weight", "minimum_order_quantity", "created_at", "updated_at")


def raw_snapshot(texts: list[bytes], page_size: int = 1000) -> pa.Table:
    """The pipeline's raw parsing of pages as the API serves them."""
    parse = page_parser(duckdb.connect())
    batches = []
    for skip in range(0, len(texts), page_size):
        chunk = texts[skip : skip + page_size]
        body = b'{"products":[' + b",".join(chunk) + f'],"total":{len(texts)},"skip":{skip}}}'.encode()
        page = parse(body)
        batches.append(page_batch(page.records, first_index=skip, skip=skip, source_url="http://api/products",
                                  fetched_at=datetime(2025, 3, 15, tzinfo=UTC)))
    return pa.Table.from_batches(batches)


def run_rules(texts: list[bytes], page_size: int = 1000) -> CleanedProducts:
    """The pipeline's raw parsing, then its ODS rules."""
    return clean_products(duckdb.connect(), raw_snapshot(texts, page_size), DAY)


def pipeline_rows(accepted: pa.Table) -> dict[int, dict[str, Any]]:
    rows = {}
    for row in accepted.to_pylist():
        row["tags"] = None if row["tags"] is None else json.loads(row["tags"])
        rows[row.pop("product_id")] = {c: row[c] for c in COMPARED}
    return rows


def assert_matches_oracle(texts: list[bytes], cleaned: CleanedProducts) -> oracle.Expected:
    expected = oracle.expected_ods(texts, TIMESTAMPS)
    rejected = {r["record_index"]: r["reason"] for r in cleaned.rejected.to_pylist()}
    assert rejected == expected.rejected
    got = pipeline_rows(cleaned.accepted)
    assert got.keys() == expected.accepted.keys()
    for pid, row in expected.accepted.items():
        assert got[pid] == row, pid
    # nothing lost: every raw record is accepted, rejected, or superseded by a later copy of its id
    assert cleaned.records == len(texts) == len(got) + len(rejected) + expected.superseded
    mart = build_mart(duckdb.connect(), cleaned.accepted, DAY)
    assert [(r["category"], r["product_count"], r["total_stock"], r["avg_price"], r["avg_rating"])
            for r in mart.to_pylist()] == oracle.expected_mart(expected.accepted)
    return expected


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hostile_records())
def test_generated_catalogs_match_the_oracle(texts: list[bytes]) -> None:
    assert_matches_oracle(texts, run_rules(texts, page_size=7))


def record(**fields: Any) -> bytes:
    product = base_product(1, lambda pool: pool[0])
    product.update(fields)
    return to_json(product)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # the four failures of issue 10, and their neighbours
        (record(title="\ud83d"), "text_invalid_unicode"),                 # lone high surrogate escape
        (record(title="\udc00"), "text_invalid_unicode"),                 # lone low surrogate escape
        (record(brand="\ude00\ud83d"), "text_invalid_unicode"),           # a pair in the wrong order
        (record(title=Raw(b'"caf\xe9"')), "text_invalid_unicode"),        # Latin-1 byte, not UTF-8
        (to_json({"title": "\ud83d"}), "text_invalid_unicode"),           # ... in a record without an id
        (record(tags=["\\u0000"]), None),                                 # backslash-u0000 is text
        (record(tags=["a\x00b"]), "text_contains_nul"),                   # a real NUL is not
        (record(title="\\ud83d"), None),                                   # an escaped backslash, then text
        (record(title="\ud83d\ude00"), None),                              # a well-formed pair
        (record(category="N/A"), None),
        (record(category='a,\n"b"'), None),
        (record(price="1_000"), "price_not_numeric"),                      # a cast would read 1000
        (record(price="0x10"), "price_not_numeric"),
        (record(price=Raw(b"1e400")), "price_not_numeric"),
        (record(price=Raw(b"NaN")), "price_not_numeric"),
        (record(stock="4.00000000000000000000000001"), "stock_not_whole"),
        (record(rating="5.0000000000000000000001"), "rating_out_of_range"),
        (record(price="-0.00000000000000000000000000001"), None),          # beyond 28 decimals: zero
        (record(tags="solo"), "tags_not_text_list"),
        (record(tags=[1, "a"]), "tags_not_text_list"),
        (record(tags=[["nested"]]), "tags_not_text_list"),
        (record(tags=[]), None),
    ],
)
def test_hostile_value_classes(text: bytes, reason: str | None) -> None:
    cleaned = run_rules([text])
    got = [r["reason"] for r in cleaned.rejected.to_pylist()] or [None]
    assert got == [reason]
    assert_matches_oracle([text], cleaned)


@pytest.mark.parametrize(("value", "stored"), [("0.0049999999995", "0.00"), ("0.00499999999999999999999", "0.00"),
                                               ("0.0050000000000000000001", "0.01"), ("2.675", "2.68")])
def test_prices_are_rounded_once(value: str, stored: str) -> None:
    (row,) = run_rules([record(price=value)]).accepted.to_pylist()
    assert str(row["price"]) == stored


def test_a_large_hostile_catalog_crosses_page_and_vector_boundaries() -> None:
    texts = hostile_catalog(12_000, seed=11, hostile_share=0.05)
    expected = assert_matches_oracle(texts, run_rules(texts, page_size=997))
    assert len(set(expected.rejected.values())) >= 10


def test_a_day_whose_ids_ascend_streams_through_the_rules_with_the_verdicts_of_one_out_of_order() -> None:
    """Ids that strictly ascend (the usual day): the rules judge each batch as the accepted rows stream, so the
    rejected records are known once those have been read. The same records out of order go through the rules'
    table first, their verdicts known at once. Both give the oracle's verdicts, across batch and vector
    boundaries, and the same accepted rows in the same order."""
    texts = hostile_catalog(17_000, seed=5, hostile_share=0.05, duplicate_share=0)
    with checked_products(duckdb.connect(), raw_snapshot(texts, page_size=997), DAY) as streamed:
        with pytest.raises(RuntimeError, match="read `accepted` to its end first"):
            _ = streamed.rejected
        accepted = streamed.accepted.read_all()
        assert streamed.accepted_rows == accepted.num_rows > 16_384
        cleaned = CleanedProducts(accepted, streamed.rejected, streamed.records, streamed.duplicates,
                                  streamed.rejected_by_reason)
    assert_matches_oracle(texts, cleaned)
    last = len(texts) - 1
    with checked_products(duckdb.connect(), raw_snapshot(texts[::-1], page_size=997), DAY) as tabled:
        reasons = {last - r["record_index"]: r["reason"] for r in tabled.rejected.to_pylist()}  # before reading
        assert reasons == {r["record_index"]: r["reason"] for r in cleaned.rejected.to_pylist()}
        assert len(reasons) > 400
        assert tabled.accepted.read_all().equals(accepted)
