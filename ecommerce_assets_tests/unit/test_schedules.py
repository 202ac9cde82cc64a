"""The daily schedule of the raw snapshots: the UTC day that just ended, once."""

from datetime import UTC, datetime

import pytest
from dagster import build_schedule_context

from ecommerce_assets.definitions import defs

raw_products_daily_schedule = defs.resolve_schedule_def("raw_products_daily_schedule")


@pytest.mark.parametrize(
    ("scheduled_utc", "partition"),
    [
        (datetime(2025, 3, 15, 2, 0, tzinfo=UTC), "2025-03-14"),   # 05:00 Moscow
        (datetime(2025, 1, 1, 2, 0, tzinfo=UTC), "2024-12-31"),
    ],
)
def test_daily_schedule_requests_the_day_that_just_ended(scheduled_utc: datetime, partition: str) -> None:
    context = build_schedule_context(scheduled_execution_time=scheduled_utc)
    request = raw_products_daily_schedule(context)
    assert request.partition_key == partition
    assert request.run_key == partition
    assert raw_products_daily_schedule.cron_schedule == "0 5 * * *"
    assert raw_products_daily_schedule.execution_timezone == "Europe/Moscow"
