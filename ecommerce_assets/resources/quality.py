"""Thresholds of the quality gates, from the environment at run time."""

import os

from dagster import ConfigurableResource
from pydantic import Field


class QualitySettings(ConfigurableResource):
    """Unset fields fall back to $ECOM_MAX_REJECTED_SHARE (0.05) and $ECOM_MAX_CATALOG_SHRINK (0.5)."""

    max_rejected_share: float | None = Field(default=None, description="rejected share above which the mart is blocked")
    max_catalog_shrink: float | None = Field(default=None, description="day-over-day shrink above which the mart is blocked")

    def rejected_share(self) -> float:
        return self.max_rejected_share if self.max_rejected_share is not None else \
            float(os.environ.get("ECOM_MAX_REJECTED_SHARE") or 0.05)

    def catalog_shrink(self) -> float:
        return self.max_catalog_shrink if self.max_catalog_shrink is not None else \
            float(os.environ.get("ECOM_MAX_CATALOG_SHRINK") or 0.5)
