"""Where snapshot keys point, and Dagster's freshness check of the mart as the settings build it: at any time,
in any zone, it expects the newest UTC day that had ended by the last deadline."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from dagster import (
    AssetMaterialization,
    AssetSelection,
    AssetSpec,
    DagsterInstance,
    Definitions,
    define_asset_job,
)
from dagster._core.test_utils import freeze_time

from ecommerce_assets.definitions import freshness
from ecommerce_assets.defs.products.keys import MART
from ecommerce_assets.defs.products.snapshot import PRODUCTS
from ecommerce_assets.partitions import daily_partitions
from ecommerce_assets.resources.quality_settings import FreshnessSettings


@pytest.mark.parametrize(
    ("key", "partition"),
    [
        ("raw/products/snapshot_date=2025-04-02/products.parquet", "2025-04-02"),
        ("raw/products/snapshot_date=2025-02-30/products.parquet", None),
        ("raw/products/snapshot_date=2025-04-02/products.parquet.tmp", None),
        ("raw/products/snapshot_date=25-04-02/products.parquet", None),
        ("other/products/snapshot_date=2025-04-02/products.parquet", None),
    ],
)
def test_snapshot_keys(key: str, partition: str | None) -> None:
    assert PRODUCTS.location.partition_of(key) == partition



def evaluate_freshness(instance: DagsterInstance, now: datetime, deadline: time, zone: str) -> Any:
    """Dagster's freshness check of the mart, built from the settings, run at `now`."""
    built = freshness(FreshnessSettings(deadline=f"{deadline:%H:%M}", deadline_timezone=zone))
    checks = list(built.asset_checks or [])
    defs = Definitions(assets=[AssetSpec(MART, partitions_def=daily_partitions)], asset_checks=checks,
                       jobs=[define_asset_job("freshness", selection=AssetSelection.checks(*checks))])
    with freeze_time(now):
        result = defs.resolve_job_def("freshness").execute_in_process(instance=instance)
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def expected_partition(instance: DagsterInstance, now: datetime, deadline: time, zone: str) -> date:
    description = evaluate_freshness(instance, now, deadline, zone).description
    return date.fromisoformat(description.split("partition ")[1][:10])


@pytest.mark.parametrize(
    ("now_utc", "expected"),
    [
        (datetime(2025, 3, 15, 5, 59, tzinfo=UTC), date(2025, 3, 13)),  # 08:59 Moscow: not yet due
        (datetime(2025, 3, 15, 6, 0, tzinfo=UTC), date(2025, 3, 14)),   # 09:00 Moscow: yesterday due
        (datetime(2025, 3, 16, 6, 30, tzinfo=UTC), date(2025, 3, 15)),  # 09:30 Moscow on the 16th
        (datetime(2025, 3, 15, 22, 0, tzinfo=UTC), date(2025, 3, 14)),  # 01:00 Moscow on the 16th
    ],
)
def test_freshness_expected_partition(now_utc: datetime, expected: date) -> None:
    with DagsterInstance.ephemeral() as instance:
        assert expected_partition(instance, now_utc, time(9, 0), "Europe/Moscow") == expected


@pytest.mark.parametrize(
    ("now_utc", "deadline", "zone", "expected"),
    [
        # east of UTC+9: the local calendar runs a day ahead of the UTC partitions
        (datetime(2025, 3, 15, 19, 30, tzinfo=UTC), time(9, 0), "Pacific/Kiritimati", date(2025, 3, 14)),  # UTC+14
        (datetime(2025, 3, 15, 0, 0, tzinfo=UTC), time(9, 0), "Asia/Tokyo", date(2025, 3, 14)),            # = 00:00 UTC
        (datetime(2025, 3, 14, 23, 59, tzinfo=UTC), time(9, 0), "Asia/Tokyo", date(2025, 3, 13)),
        (datetime(2025, 3, 15, 23, 30, tzinfo=UTC), time(8, 0), "Asia/Tokyo", date(2025, 3, 14)),          # 15th not over
        # west of UTC
        (datetime(2025, 1, 15, 14, 30, tzinfo=UTC), time(9, 0), "America/New_York", date(2025, 1, 14)),
        (datetime(2025, 1, 16, 3, 0, tzinfo=UTC), time(9, 0), "America/New_York", date(2025, 1, 14)),
        (datetime(2025, 1, 16, 6, 30, tzinfo=UTC), time(20, 0), "Pacific/Honolulu", date(2025, 1, 15)),     # UTC-10
        (datetime(2025, 1, 16, 5, 59, tzinfo=UTC), time(20, 0), "Pacific/Honolulu", date(2025, 1, 14)),
    ],
)
def test_freshness_is_judged_on_utc_partitions_in_any_zone(now_utc: datetime, deadline: time, zone: str,
                                                          expected: date) -> None:
    with DagsterInstance.ephemeral() as instance:
        due = expected_partition(instance, now_utc, deadline, zone)
    assert due == expected
    # the partition that is due has ended in UTC by then; the next one has not been due yet
    assert datetime.combine(due + timedelta(days=1), time(0), tzinfo=UTC) <= now_utc


def test_freshness_check_fails_until_yesterdays_mart_exists() -> None:
    now = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
    with DagsterInstance.ephemeral() as instance:
        missing = evaluate_freshness(instance, now, time(0, 0), "UTC")
        assert not missing.passed and "2025-03-14" in (missing.description or "")
        instance.report_runless_asset_event(AssetMaterialization(MART, partition="2025-03-13"))
        assert not evaluate_freshness(instance, now, time(0, 0), "UTC").passed  # an older day is not yesterday
        instance.report_runless_asset_event(AssetMaterialization(MART, partition="2025-03-14"))
        assert evaluate_freshness(instance, now, time(0, 0), "UTC").passed
