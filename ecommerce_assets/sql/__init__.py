"""SQL shipped as package data: one purpose per file."""

from functools import cache
from importlib import resources


@cache
def load_sql(name: str) -> str:
    """The text of `sql/<name>` (e.g. "ods/clean_products.sql")."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
