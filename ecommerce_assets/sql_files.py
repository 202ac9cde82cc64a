"""SQL shipped as package data, one purpose per file: each package keeps its statements in its own `sql/`
folder, whose sub-folder names the engine that runs them (`duckdb/`, `postgres/`; the warehouse package's
own folder is PostgreSQL only)."""

from functools import cache
from importlib import resources

from psycopg import sql


class SqlFiles:
    """The `sql/` folder of one package."""

    def __init__(self, package: str) -> None:
        self.package = package

    def text(self, name: str) -> str:
        """The text of `sql/<name>` (e.g. "duckdb/check_products.sql")."""
        return _read(self.package, name)

    def composed(self, name: str, **parts: sql.Composable) -> sql.Composed:
        """`sql/<name>.sql` with its `{placeholders}` filled by identifiers or literals (psycopg.sql)."""
        return sql.SQL(self.text(f"{name}.sql")).format(**parts)


@cache
def _read(package: str, name: str) -> str:
    return resources.files(package).joinpath("sql", name).read_text(encoding="utf-8")
