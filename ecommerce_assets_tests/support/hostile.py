"""Hostile catalogs: what a real catalog API could send, as the exact bytes of each record.

The value classes are listed once and drawn from two ways: by hypothesis (property tests) and by a seeded
random generator (catalogs of tens of thousands of records for the integration run).
"""

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st


@dataclass(frozen=True)
class Raw:
    """A JSON token written as given (1e400, NaN, a string holding bytes that are not UTF-8)."""

    token: bytes


def to_json(value: Any, ascii_only: bool = False) -> bytes:
    """JSON text of `value`; strings with lone surrogates come out as `\\udXXX` escapes."""
    if isinstance(value, Raw):
        return value.token
    if isinstance(value, dict):
        return b"{" + b",".join(to_json(k, ascii_only) + b":" + to_json(v, ascii_only) for k, v in value.items()) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(to_json(v, ascii_only) for v in value) + b"]"
    if isinstance(value, str):
        try:
            return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(value, ensure_ascii=True).encode("ascii")
    return json.dumps(value).encode()


# Texts that must round-trip byte-exact (or, with NUL or a lone surrogate, be rejected).
NULL_LOOKING = ["N/A", "null", "NULL", "NA", "\\N", "None", "nan", "-", '""']
CSV_BREAKERS = ["a,b", "line\nbreak", 'say "hi"', "cr\r\nlf", '"', ",", "\n", 'x,\n"y"', "a\tb"]
CONTROL = ["\x01", "bell\x07", "\x1f", "del\x7f", "\x0b\x0c"]
UNICODE = ["🛒 cart", "中文", "\u202ertl", "\ufeffbom", "nb\u00a0sp", "e\u0301", "\uffff", "line\u2028sep", "𝔘𝔫𝔦"]
ESCAPES_AS_TEXT = ["\\u0000", "\\ud83d", "back\\slash", "\\\\N", "%s", "$1", "{}", "'; DROP TABLE x; --"]
PADDED = ["  beauty\t", "\n\nspaced\r", " \u00a0"]
PLAIN = ["beauty", "laptops", "Home Decor", "groceries", "sports"]
TEXTS = NULL_LOOKING + CSV_BREAKERS + CONTROL + UNICODE + ESCAPES_AS_TEXT + PADDED + PLAIN + [""]
REJECTED_TEXTS: list[Any] = [
    "nul\x00inside", "\x00",                         # text_contains_nul
    "\ud83d", "lone \udc00 low", "\ude00\ud83d",     # text_invalid_unicode
    Raw(b'"latin-1 caf\xe9"'), Raw(b'"\xff\xfe"'),   # not UTF-8: text_invalid_unicode
]
NUMBERS: list[Any] = [
    0, 1, -1, 7, 2**31 - 1, 2**31, 2**63, 10**30, Raw(b"-0"), Raw(b"9.995"), Raw(b"0.005"), Raw(b"2.675"),
    Raw(b"1e3"), Raw(b"1E-2"), Raw(b"4.5"), Raw(b"5.01"), Raw(b"9999999999.99"), Raw(b"9999999999.995"),
    Raw(b"1e400"), Raw(b"-1e400"), Raw(b"NaN"), Raw(b"Infinity"), Raw(b"-Infinity"), Raw(b"1e-400"),
    "12.50", " 3 ", "+5", ".5", "5.", "1e2", "1_000", "0x10", "12,50", "١٢", "abc", "", "   ", "-0.001",
    "0.00499999999999999999999", "0.0050000000000000000001", "4.00000000000000000000000001",
    "5.0000000000000000000001", "-0.00000000000000000000000000001", "2147483647.4", "1e10",
    True, False, None, [1], {"amount": 1},
]
TIMESTAMPS: dict[str, datetime | None] = {
    "2024-05-23T08:56:21.618Z": datetime(2024, 5, 23, 8, 56, 21, 618000, tzinfo=UTC),
    "2024-05-23T10:56:21+02:00": datetime(2024, 5, 23, 8, 56, 21, tzinfo=UTC),
    "2024-05-23 08:56:21": datetime(2024, 5, 23, 8, 56, 21, tzinfo=UTC),
    "not a date": None,
    "2024-13-01T00:00:00Z": None,
    "": None,
}
IDS: list[Any] = [None, "5", Raw(b"5.0"), True, 2**70, Raw(b"1e2"), [1]]
NOT_OBJECTS = [b'"a string"', b"[1,2]", b"5", b"null", b"true"]
NUMERIC_FIELDS = ("price", "stock", "rating", "discountPercentage", "weight", "minimumOrderQuantity")
TEXT_FIELDS = ("title", "description", "category", "brand", "sku", "availabilityStatus")


def base_product(product_id: int, pick: Callable[[list[Any]], Any]) -> dict[str, Any]:
    """A well-formed product whose category may still be any awkward (accepted) text."""
    return {
        "id": product_id,
        "title": f"Product {product_id}",
        "description": f"Item {product_id}",
        "category": pick(PLAIN + NULL_LOOKING + CSV_BREAKERS + UNICODE + PADDED),
        "price": Raw(f"{(product_id * 37) % 250000 / 100:.2f}".encode()),
        "discountPercentage": Raw(f"{product_id % 2500 / 100}".encode()),
        "rating": Raw(f"{(product_id * 7) % 501 / 100}".encode()),
        "stock": (product_id * 13) % 150,
        "tags": ["tag", pick(TEXTS)],
        "brand": "Acme",
        "sku": f"SKU-{product_id}",
        "weight": (product_id % 9) + 1,
        "availabilityStatus": "In Stock",
        "minimumOrderQuantity": (product_id % 40) + 1,
        "meta": {"createdAt": "2024-05-23T08:56:21.618Z", "updatedAt": "2024-05-23T10:56:21+02:00"},
    }


def mutate(record: dict[str, Any], rng: random.Random) -> dict[str, Any] | bytes:
    """One hostile change, drawn at random."""
    kind = rng.randrange(9)
    if kind == 0:
        record[rng.choice(TEXT_FIELDS)] = rng.choice(TEXTS)
    elif kind == 1:
        record[rng.choice(TEXT_FIELDS)] = rng.choice(REJECTED_TEXTS)
    elif kind == 2:
        record[rng.choice(NUMERIC_FIELDS)] = rng.choice(NUMBERS)
    elif kind == 3:
        record["tags"] = rng.choice([[rng.choice(TEXTS), rng.choice(TEXTS)], [rng.choice(REJECTED_TEXTS)], "solo",
                                     [1, "a"], [None], {"a": "b"}, [], None, [["nested"]]])
    elif kind == 4:
        record["meta"] = rng.choice([{"createdAt": rng.choice(list(TIMESTAMPS))}, {"updatedAt": 17}, "meta", None])
    elif kind == 5:
        record["id"] = rng.choice(IDS)
    elif kind == 6:
        return rng.choice(NOT_OBJECTS)
    elif kind == 7:
        texts = TEXTS + [t for t in REJECTED_TEXTS if isinstance(t, str)]
        record[rng.choice(TEXT_FIELDS)] = rng.choice(texts) * rng.choice([1, 1000, 20000])  # up to 400 kB
    else:
        record["newField" + str(rng.randrange(3))] = {"deep": [rng.choice(TEXTS)] * 3}
    return record


def hostile_catalog(size: int, seed: int, hostile_share: float = 0.02, duplicate_share: float = 0.005) -> list[bytes]:
    """`size` records: well-formed products, about `hostile_share` of them with a hostile change, about
    `duplicate_share` repeating an earlier id (the later copy wins), some written with every non-ASCII
    character escaped."""
    rng = random.Random(seed)
    pick: Callable[[list[Any]], Any] = rng.choice
    texts = []
    for position in range(size):
        product_id = position + 1
        if position and rng.random() < duplicate_share:
            product_id = rng.randrange(1, position + 1)
        record: dict[str, Any] | bytes = base_product(product_id, pick)
        if rng.random() < hostile_share:
            record = mutate(record, rng)  # type: ignore[arg-type]
        texts.append(record if isinstance(record, bytes) else to_json(record, ascii_only=rng.random() < 0.1))
    return texts


@st.composite
def hostile_records(draw: st.DrawFn, max_size: int = 40) -> list[bytes]:
    """A small catalog for property tests: every record may be hostile in several places at once, and
    hypothesis adds arbitrary Unicode text beyond the listed classes."""
    any_text = st.one_of(st.sampled_from(TEXTS + REJECTED_TEXTS), st.text(max_size=12),
                         st.text(st.characters(codec="utf-8"), max_size=6))
    size = draw(st.integers(1, max_size))
    texts = []
    for position in range(size):
        product_id = draw(st.one_of(st.just(position + 1), st.integers(1, max(position, 1))))
        record: dict[str, Any] = base_product(product_id, lambda pool: draw(st.sampled_from(pool)))
        for name in draw(st.lists(st.sampled_from(TEXT_FIELDS), max_size=3)):
            record[name] = draw(any_text)
        for name in draw(st.lists(st.sampled_from(NUMERIC_FIELDS), max_size=3)):
            record[name] = draw(st.one_of(
                st.sampled_from(NUMBERS),
                st.decimals(-(10**12), 10**12, allow_nan=False, allow_infinity=False,
                            places=draw(st.integers(0, 30))).map(str),
                st.integers(-(2**40), 2**40),
            ))
        if draw(st.booleans()):
            record["tags"] = draw(st.one_of(st.lists(any_text, max_size=3), st.sampled_from([None, "x", [1], {}])))
        if draw(st.integers(0, 9)) == 0:
            record["meta"] = {"createdAt": draw(st.sampled_from(list(TIMESTAMPS))),
                              "updatedAt": draw(st.sampled_from([*TIMESTAMPS, None, 5]))}
        if draw(st.integers(0, 14)) == 0:
            record["id"] = draw(st.sampled_from(IDS))
        if draw(st.integers(0, 29)) == 0:
            texts.append(draw(st.sampled_from(NOT_OBJECTS)))
            continue
        texts.append(to_json(record, ascii_only=draw(st.booleans())))
    return texts
