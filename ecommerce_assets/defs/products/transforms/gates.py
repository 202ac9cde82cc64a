"""Quality gates as pure functions: what must hold before a partition of the mart may be (re)written."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PartitionCounts:
    """Rows of one ODS partition and, for the day-over-day guard, of the latest earlier one."""

    accepted: int
    rejected: int
    previous_accepted: int | None = None
    previous_date: str | None = None

    @property
    def rejected_share(self) -> float:
        total = self.accepted + self.rejected
        return self.rejected / total if total else 0.0


def rejected_share_problem(counts: PartitionCounts, max_share: float) -> str | None:
    if counts.rejected_share > max_share:
        return (f"{counts.rejected} of {counts.accepted + counts.rejected} records were rejected "
                f"({counts.rejected_share:.1%} > {max_share:.1%}); see ods.rejected_products")
    return None


def shrink_problem(counts: PartitionCounts, max_shrink: float) -> str | None:
    if not counts.previous_accepted:
        return None
    shrink = 1 - counts.accepted / counts.previous_accepted
    if shrink > max_shrink:
        return (f"the catalog shrank by {shrink:.1%} ({counts.previous_accepted} products on {counts.previous_date} "
                f"-> {counts.accepted}), more than {max_shrink:.0%}")
    return None
