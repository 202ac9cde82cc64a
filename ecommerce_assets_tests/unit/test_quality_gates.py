"""The quality gates' judgements as pure functions."""


import pytest

from ecommerce_assets.defs.products.transforms.gates import (
    PartitionCounts,
    rejected_share_problem,
    shrink_problem,
)


@pytest.mark.parametrize(
    ("counts", "share", "problem"),
    [
        (PartitionCounts(95, 5), 0.05, None),
        (PartitionCounts(94, 6), 0.05, "6 of 100 records were rejected (6.0% > 5.0%)"),
        (PartitionCounts(0, 0), 0.05, None),
    ],
)
def test_rejected_share_problem(counts: PartitionCounts, share: float, problem: str | None) -> None:
    found = rejected_share_problem(counts, share)
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("counts", "problem"),
    [
        (PartitionCounts(50, 0, 100, "2025-06-30"), None),            # exactly half: allowed
        (PartitionCounts(49, 0, 100, "2025-06-30"), "shrank by 51.0%"),
        (PartitionCounts(10, 0, None, None), None),                   # no earlier snapshot
        (PartitionCounts(500, 0, 100, "2025-06-30"), None),           # growth is fine
    ],
)
def test_shrink_problem(counts: PartitionCounts, problem: str | None) -> None:
    found = shrink_problem(counts, 0.5)
    assert (found is None) if problem is None else (found is not None and problem in found)
