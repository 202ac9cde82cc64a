"""Thresholds of the quality gates and the mart's deadline."""

from datetime import time
from zoneinfo import ZoneInfo

from dagster import ConfigurableResource
from pydantic import Field


class QualitySettings(ConfigurableResource):
    """Where the mart stops trusting a day's catalog."""

    max_rejected_share: float = Field(default=0.05, ge=0, le=1,
                                      description="rejected share above which the mart refuses the day ($ECOM_MAX_REJECTED_SHARE)")
    max_catalog_shrink: float = Field(default=0.5, ge=0, le=1,
                                      description="day-over-day shrink above which the mart refuses the day ($ECOM_MAX_CATALOG_SHRINK)")

    def rejected_share(self) -> float:
        return self.max_rejected_share

    def catalog_shrink(self) -> float:
        return self.max_catalog_shrink


class FreshnessSettings(ConfigurableResource):
    """When yesterday's mart must exist."""

    deadline: str = Field(default="09:00", description="HH:MM wall-clock time ($ECOM_DM_DEADLINE)")
    deadline_timezone: str = Field(default="Europe/Moscow", description="time zone of the deadline ($ECOM_DM_DEADLINE_TZ)")

    def resolved(self) -> tuple[time, ZoneInfo]:
        return time.fromisoformat(self.deadline), ZoneInfo(self.deadline_timezone)
