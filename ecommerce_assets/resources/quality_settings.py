"""Thresholds of the quality gates, the mart's deadline and the bounds of self-healing."""

from datetime import time, timedelta
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


class HealingSettings(ConfigurableResource):
    """How far the platform heals by itself (docs/operations.md#self-healing). The sensors read these; a
    step reads $ECOM_STEP_RETRIES itself when its run starts (`retries.step_retries`), the same variable."""

    step_retries: int = Field(default=5, ge=0, le=5,
                              description="retries of a step after a transient fault, 5 s doubling ($ECOM_STEP_RETRIES)")
    window_hours: float = Field(default=6.0, ge=0,
                                description="hours a day failed on a transient fault is run again ($ECOM_HEAL_WINDOW)")

    first_delay_minutes: float = Field(default=2.0, ge=0,
                                       description="wait before a failed day's first re-run, doubling up to an hour "
                                                   "($ECOM_HEAL_FIRST_DELAY)")

    def window(self) -> timedelta:
        return timedelta(hours=self.window_hours)

    def first_delay(self) -> timedelta:
        return timedelta(minutes=self.first_delay_minutes)
