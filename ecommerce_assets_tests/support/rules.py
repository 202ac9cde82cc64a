"""The product rules applied with every row in memory — for tests and benchmarks on small catalogs (the
pipeline streams them instead)."""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from ecommerce_assets.defs.products.transforms.rules import checked_products


@dataclass(frozen=True)
class CleanedProducts:
    """The ODS rows of one snapshot, the records rejected with their reasons, and what was seen."""

    accepted: pa.Table
    rejected: pa.Table
    records: int
    duplicates: int
    rejected_by_reason: dict[str, int]
    new_fields: list[str] = field(default_factory=list)
    missing_fields: list[str] = field(default_factory=list)

    @property
    def rejected_share(self) -> float:
        decided = self.accepted.num_rows + self.rejected.num_rows
        return self.rejected.num_rows / decided if decided else 0.0


def clean_products(con: duckdb.DuckDBPyConnection, raw: Any, snapshot_date: date) -> CleanedProducts:
    """The ODS rules applied to `raw`, every accepted row in memory."""
    with checked_products(con, raw, snapshot_date) as checked:
        accepted = checked.accepted.read_all()
    return CleanedProducts(
        accepted=accepted,
        rejected=checked.rejected,
        records=checked.records,
        duplicates=checked.duplicates,
        rejected_by_reason=checked.rejected_by_reason,
        new_fields=checked.new_fields,
        missing_fields=checked.missing_fields,
    )
