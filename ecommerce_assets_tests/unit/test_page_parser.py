"""The pipeline's page parser (msgspec, falling back to DuckDB's reader, then the standard library) against an
oracle written here with the standard library only: every record's text and id, whatever the page holds."""

import json
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecommerce_assets.transforms.raw_snapshot import (
    DuckDBPageParser,
    MsgspecPageParser,
    PageParser,
    PageShapeError,
    ParsedPage,
    page_batch,
    page_parser,
    repeated_ids,
    superseded_count,
)
from ecommerce_assets_tests.support.helpers import examples
from ecommerce_assets_tests.support.rules import clean_products


class Recorder:
    """A fallback that records which bodies reached it."""

    def __init__(self) -> None:
        self.calls = 0
        self.parser = DuckDBPageParser(duckdb.connect())

    def __call__(self, body: bytes) -> ParsedPage:
        self.calls += 1
        return self.parser(body)


def oracle_id(record: Any) -> int | None:
    if type(record) is dict and type(record.get("id")) is int and -(2**63) <= record["id"] < 2**63:
        return int(record["id"])
    return None


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
IDS = (st.none() | st.booleans() | st.integers(-(2**65), 2**65) | st.floats(allow_nan=False, allow_infinity=False)
       | st.text(max_size=3))  # JSON has no NaN or Infinity: a page holding them is not JSON (the fallback's case)
RECORDS = st.one_of(
    st.builds(lambda fields, pid: {**fields, "id": pid}, st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=5),
              IDS),
    JSON_VALUES,
)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(RECORDS, max_size=30), indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans())
def test_generated_pages_match_the_standard_library(records: list[Any], indent: int | None, ascii_only: bool) -> None:
    body = json.dumps({"skip": 0, "products": records, "total": 9000, "limit": 30}, indent=indent,
                      ensure_ascii=ascii_only).encode()
    fallback = Recorder()
    page = MsgspecPageParser(fallback)(body)
    assert fallback.calls == 0  # valid pages never need the slow path
    assert (page.total, page.count) == (9000, len(records))
    assert page.records.column("record_id").to_pylist() == [oracle_id(r) for r in records]
    assert [json.loads(t) for t in page.records.column("record_json").to_pylist()] == records


def test_records_are_kept_exactly_as_sent() -> None:
    body = (b'{"products": [ {"id": 1, "p": 1.50, "big": 18446744073709551617, "huge": 1e400, "s": "\\u00e9\xf0\x9f\x9b\x92"},'
            b'\n {"id":"7"},{"id":true}, 5 ,{"id":9223372036854775808},{"id":-9223372036854775808}], "total": 12}')
    page = MsgspecPageParser(Recorder())(body)
    assert page.records.column("record_id").to_pylist() == [1, None, None, None, None, -(2**63)]
    assert page.records.column("record_json").to_pylist() == [
        '{"id": 1, "p": 1.50, "big": 18446744073709551617, "huge": 1e400, "s": "\\u00e9🛒"}', '{"id":"7"}',
        '{"id":true}', "5", '{"id":9223372036854775808}', '{"id":-9223372036854775808}',
    ]


@pytest.mark.parametrize(
    "body",
    [
        b'{"products": [{"id": 3, "t": "\\ud800"}], "total": 1}',   # a lone surrogate escape
        b'{"products": [{"id": 3, "t": "caf\xe9"}], "total": 1}',   # Latin-1, not UTF-8
        b'{"products": [{"id": 3, "p": Infinity}], "total": 1}',   # what Python's json.dumps writes for inf
    ],
)
def test_what_msgspec_refuses_goes_to_the_fallback(body: bytes) -> None:
    fallback = Recorder()
    page = MsgspecPageParser(fallback)(body)
    assert fallback.calls == 1
    assert page.records.column("record_id").to_pylist() == [3]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"products": [{"id": 1}', ValueError),  # cut short: asked for again
        (b"<html>502</html>", ValueError),
        (b"[1, 2]", PageShapeError),
        (b'{"total": 3}', PageShapeError),
        (b'{"products": [], "total": "3"}', PageShapeError),
        (b'{"products": [], "total": true}', PageShapeError),
        (b'{"products": [], "total": -1}', PageShapeError),
        (b'{"products": {}, "total": 1}', PageShapeError),
    ],
)
@pytest.mark.parametrize("make", [page_parser, DuckDBPageParser], ids=["pipeline", "duckdb"])
def test_what_is_not_a_page_is_refused_alike(body: bytes, error: type[Exception], make: Any) -> None:
    parse: PageParser = make(duckdb.connect())
    with pytest.raises(error):
        parse(body)


def rules(body: bytes, parse: PageParser) -> list[tuple[int | None, str | None]]:
    page = parse(body)
    raw = pa.Table.from_batches([page_batch(page.records, first_index=0, skip=0, source_url="http://api/products",
                                            fetched_at=datetime(2025, 3, 15, tzinfo=UTC))])
    cleaned = clean_products(duckdb.connect(), raw, date(2025, 3, 14))
    return ([(r["product_id"], None) for r in cleaned.accepted.to_pylist()]
            + [(r["product_id"], r["reason"]) for r in cleaned.rejected.to_pylist()])


@pytest.mark.parametrize(("make", "expected"), [(page_parser, [(2, "id_ambiguous")]), (DuckDBPageParser, [(1, None)])],
                         ids=["pipeline", "duckdb"])
def test_an_id_named_twice_is_quarantined_when_the_readers_disagree(make: Any, expected: list[Any]) -> None:
    parse: PageParser = make(duckdb.connect())
    # JSON readers disagree on duplicate names: msgspec and Python keep the last, DuckDB (the ODS rules) the
    # first; when the raw layer's reading is not the rules' reading, the record is neither product
    ambiguous = b'{"products": [{"id": 1, "title": "a", "id": 2}], "total": 1}'
    assert rules(ambiguous, parse) == expected
    assert rules(b'{"products": [{"id": 4, "title": "a", "id": 4}], "total": 1}', parse) == [(4, None)]


@settings(max_examples=examples(200), deadline=None)
@given(chunks=st.lists(st.lists(st.none() | st.integers(-(2**63), 2**63 - 1) | st.integers(0, 5), max_size=20),
                       max_size=6))
def test_repeated_ids_are_those_counted_more_than_once(chunks: list[list[int | None]]) -> None:
    counted = Counter(v for chunk in chunks for v in chunk if v is not None)
    ids = pa.chunked_array([pa.array(c, pa.int64()) for c in chunks], pa.int64())
    assert repeated_ids(ids).to_pylist() == sorted(v for v, n in counted.items() if n > 1)
    assert superseded_count(ids) == sum(n - 1 for n in counted.values())  # what the ODS accounting adds up
