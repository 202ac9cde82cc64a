"""Several partitions of one asset handled in one run (a backfill range): partition key -> value, each value
made only when asked for, so a range of days never sits in memory at once."""

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

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


def by_partition(keys: Sequence[str], value: T | Mapping[str, T]) -> Mapping[str, T]:
    """A value of one partition, or the mapping of a run over several (Dagster's convention for partition
    ranges), as a mapping by partition key."""
    if isinstance(value, Mapping):
        return value
    if len(keys) != 1:
        raise ValueError(f"one value for {len(keys)} partitions")
    return {keys[0]: value}


def for_partitions(keys: Sequence[str], make: Callable[[str], T]) -> T | Mapping[str, T]:
    """What an asset returns (or an IO manager loads) for the partitions of its run: the value of the one
    partition, or for a range a mapping whose values are made one at a time, when looked up."""
    return make(keys[0]) if len(keys) == 1 else LazyPartitions(keys, make)
