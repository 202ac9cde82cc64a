"""The local runner's own queries (what it prints), shipped as package data beside it."""

from functools import cache
from importlib import resources


@cache
def load_query(name: str) -> str:
    """The text of `ecommerce_local/sql/<name>.sql`."""
    return resources.files(__package__).joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
