"""DuckDB, the transform engine: in memory, spilling to the temporary directory past a memory limit, so a
catalog never has to fit in memory."""

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field, field_validator

_SIZE = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


class DuckDBEngine(DuckDBResource):
    """An in-memory DuckDB per connection, with a memory limit and a spill directory."""

    memory_limit: str = Field(default="256MB", description="memory DuckDB may use per transform before spilling "
                                                           "to the temporary directory ($ECOM_DUCKDB_MEMORY_LIMIT)")

    @field_validator("memory_limit")
    @classmethod
    def _a_size(cls, value: str) -> str:
        if not _SIZE.match(value.strip()):
            raise ValueError(f"not a memory size such as 512MB or 2GB: {value!r}")
        return value.strip()

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        spill = Path(tempfile.gettempdir()) / "ecommerce-duckdb"
        with super().get_connection() as con:
            con.execute(f"SET memory_limit = '{self.memory_limit}'")  # a validated size, not free text
            con.execute("SET temp_directory = ?", [str(spill)])
            yield con
