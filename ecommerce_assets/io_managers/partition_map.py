"""Several partitions of one asset handled in one run (a backfill range): partition key -> value, each value
made only when asked for, so a range of days never sits in memory at once; and the run's check results
over its partitions as one result per check."""

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

from dagster import AssetCheckResult, FloatMetadataValue, IntMetadataValue, MetadataValue

T = TypeVar("T")


class LazyPartitions(Mapping[str, T]):
    """Partition keys in order, each value made by `load(key)` when it is looked up (not kept)."""

    def __init__(self, keys: Sequence[str], load: Callable[[str], T]) -> None:
        self._keys = list(keys)
        self._known = set(self._keys)
        self._load = load

    def __getitem__(self, key: str) -> T:
        if key not in self._known:
            raise KeyError(key)
        return self._load(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def per_partition(keys: Sequence[str], value: T | Mapping[str, T]) -> Mapping[str, T]:
    """An input as a mapping by partition key, whether it was loaded for one partition or for several."""
    if isinstance(value, Mapping):
        return value
    if len(keys) != 1:
        raise ValueError(f"one value for {len(keys)} partitions")
    return {keys[0]: value}


def combine_check_results(by_partition: Mapping[str, AssetCheckResult]) -> AssetCheckResult:
    """One check's results over the partitions of one run, as one result: passed when every partition
    passed, the failing partitions named with what each said; counts (integers) summed, and shares and
    thresholds (floats, which do not add up) as their largest value — the worst day. One partition: its
    result as it is."""
    results = list(by_partition.values())
    if len(results) == 1:
        return results[0]
    first = results[0]
    failed = {key: result for key, result in by_partition.items() if not result.passed}
    sums: dict[str, int] = {}
    highest: dict[str, float] = {}
    for result in results:
        for name, value in (result.metadata or {}).items():
            number = value.value if isinstance(value, IntMetadataValue | FloatMetadataValue) else value
            if isinstance(number, bool) or number is None:
                continue
            if isinstance(number, int):
                sums[f"sum_{name}"] = sums.get(f"sum_{name}", 0) + number
            elif isinstance(number, float):
                highest[f"max_{name}"] = max(highest.get(f"max_{name}", number), number)
    shown = list(failed.items())[:10]
    description = None if not failed else "; ".join(f"{key}: {result.description or 'failed'}" for key, result in shown) + (
        f"; and {len(failed) - len(shown)} more partitions" if len(failed) > len(shown) else "")
    return AssetCheckResult(
        check_name=first.check_name, passed=not failed, severity=first.severity, description=description,
        metadata={"partitions": len(results), "partitions_failed": MetadataValue.json(sorted(failed)),
                  **sums, **highest},
    )
