"""The schema-drift census: taken a row group at a time as the raw step writes, it equals the census of the
whole snapshot and the keys the standard library reads; the rules use a census they are given instead of
parsing every record again."""

import json
from datetime import UTC, date, datetime

import duckdb
import pyarrow as pa

from ecommerce_assets.defs.products.transforms.rules import checked_products
from ecommerce_assets.snapshots.census import KeyCensus
from ecommerce_assets.transforms.raw_snapshot import RAW_SCHEMA, page_batch, record_keys, records_table
from ecommerce_catalog_server.daily import DailyCatalog

TEXTS = [
    '{"id":1,"title":"a","meta":{"createdAt":"x"}}',  # nested keys are not top-level keys
    '{"id":2,"colour":"red","id":3}',                  # a key named twice counts once
    "[1,2]", "7", '"text"', "null",                    # not objects: no keys
    '{"id":',                                          # not JSON: no keys
    '{"ключ":1,"":2}', "{}", '{"a":{"b":{"c":1}}}',
]


def raw_table(texts: list[str]) -> pa.Table:
    n = len(texts)
    return pa.table({"record_index": pa.array(range(n), pa.int64()), "product_id": pa.nulls(n, pa.int64()),
                     "record_json": pa.array(texts, pa.large_string())})


def oracle(texts: list[str]) -> set[str]:
    keys: set[str] = set()
    for text in texts:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            keys |= set(value)
    return keys


def census_of(groups: list[pa.Table]) -> set[str]:
    census = KeyCensus(duckdb.connect())
    for group in groups:
        census.add(group)
    assert json.loads(census.footer()["record_keys"]) == sorted(census.keys)
    return census.keys


def whole(table: pa.Table) -> set[str]:
    con = duckdb.connect()
    con.register("raw_records", table)
    return record_keys(con)


def test_hostile_records_in_groups_give_the_keys_the_standard_library_reads() -> None:
    table = raw_table(TEXTS)
    expected = oracle(TEXTS)
    assert expected == {"id", "title", "meta", "colour", "ключ", "", "a"}
    assert whole(table) == expected
    assert census_of([table.slice(0, 3), table.slice(3, 4), table.slice(7)]) == expected
    assert census_of([table.slice(0, 0)]) == set()


def test_a_catalog_across_vector_sizes_in_groups_equals_its_whole_census() -> None:
    records = DailyCatalog(5_000, date(2025, 3, 14)).page(0, 5_000)
    records[4_321] = {**records[4_321], "colour": "red"}  # one record of one group drifts
    batch = page_batch(records_table(records), first_index=0, skip=0, fetched_at=datetime(2025, 3, 15, tzinfo=UTC),
                       source_url="test")
    table = pa.Table.from_batches([batch], schema=RAW_SCHEMA)
    groups = [table.slice(start, 2_048) for start in range(0, 5_000, 2_048)]
    expected = oracle([json.dumps(r) for r in records])
    assert "colour" in expected
    assert whole(table) == census_of(groups) == expected


def test_the_rules_use_a_census_they_are_given() -> None:
    table = raw_table(['{"id":1,"price":2,"title":"t"}'])
    with checked_products(duckdb.connect(), table.set_column(1, "product_id", pa.array([1], pa.int64())),
                          date(2025, 3, 14)) as parsed:
        assert parsed.new_fields == [] and "price" not in parsed.missing_fields
    with checked_products(duckdb.connect(), table.set_column(1, "product_id", pa.array([1], pa.int64())),
                          date(2025, 3, 14), stored_keys=["id", "colour"]) as given:
        assert given.new_fields == ["colour"] and "price" in given.missing_fields
