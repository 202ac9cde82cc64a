"""SQL shipped as package data: one purpose per file."""

from functools import cache
from importlib import resources

from psycopg import sql


@cache
def load_sql(name: str) -> str:
    """The text of `sql/<name>` (e.g. "ods/clean_products.sql")."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def load_composed(name: str, **parts: sql.Composable) -> sql.Composed:
    """`sql/<name>.sql` with its `{placeholders}` filled by identifiers or literals (psycopg.sql)."""
    return sql.SQL(load_sql(f"{name}.sql")).format(**parts)
