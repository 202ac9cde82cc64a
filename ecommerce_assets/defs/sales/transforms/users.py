"""A user record reduced before anything leaves the process: the raw layer's one documented exception to "raw is
unchanged". Kept: `id, age, gender, role` and the address's `city, state, country`, each only as a plain
value (a list or an object in their place keeps its kind, never its content), plus `customer_key`: the
HMAC-SHA256 of the trimmed, lower-cased e-mail under a secret key. Nothing else of a user is kept."""

import hashlib
import hmac
import json
from typing import Any

import pyarrow as pa

KEPT = ("id", "age", "gender", "role")
KEPT_FROM_ADDRESS = ("city", "state", "country")


def customer_key(email: str, key: bytes) -> str:
    """The customer's pseudonymous key: one per e-mail address (trimmed, lower-cased), unguessable without
    the key."""
    return hmac.new(key, email.strip().lower().encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def _plain(value: Any) -> Any:
    """A value as kept: a plain value as it is; a list or an object only as its (empty) kind."""
    if isinstance(value, dict):
        return {}
    if isinstance(value, list):
        return []
    return value


def reduce_user(text: str, key: bytes) -> str:
    """The kept part of one user record (its JSON text as received) as JSON text. A record that is not JSON or
    not an object keeps only why: `{"problem": "invalid_json" | "not_an_object"}`."""
    try:
        record = json.loads(text)
    except ValueError:
        return json.dumps({"problem": "invalid_json"})
    if not isinstance(record, dict):
        return json.dumps({"problem": "not_an_object"})
    kept = {name: _plain(record[name]) for name in KEPT if name in record}
    address = record.get("address")
    if isinstance(address, dict):
        kept.update({name: _plain(address[name]) for name in KEPT_FROM_ADDRESS if name in address})
    email = record.get("email")
    kept["customer_key"] = customer_key(email, key) if isinstance(email, str) and email.strip() else None
    reduced = json.dumps(kept, ensure_ascii=False, separators=(",", ":"))
    try:
        reduced.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in a kept text: escaped, as the raw layer keeps such text
        reduced = json.dumps(kept, ensure_ascii=True, separators=(",", ":"))
    return reduced


def reduce_users(records: pa.Table, key: bytes) -> pa.Table:
    """A page's (record_id, record_json) rows with every record reduced (`reduce_user`)."""
    texts = records.column("record_json").to_pylist()
    reduced = pa.array([reduce_user(text, key) for text in texts], records.schema.field("record_json").type)
    return records.set_column(records.schema.get_field_index("record_json"), "record_json", reduced)
