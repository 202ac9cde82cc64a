"""Where partitions live in the lake: `<prefix>/<partition_field>=<partition>/<filename>`, and how a key reads back."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class LakeLocation:
    """Where an asset's partitions live: one object per partition."""

    prefix: str
    partition_field: str
    filename: str

    def key(self, partition_key: str) -> str:
        return f"{self.prefix}/{self.partition_field}={partition_key}/{self.filename}"

    def partition_of(self, key: str) -> str | None:
        """The partition key of an object key of this location, or None when the key is not one."""
        pattern = (rf"^{re.escape(self.prefix)}/{re.escape(self.partition_field)}=(\d{{4}}-\d{{2}}-\d{{2}})/"
                   rf"{re.escape(self.filename)}$")
        match = re.match(pattern, key)
        if not match:
            return None
        try:
            date.fromisoformat(match.group(1))
        except ValueError:
            return None
        return match.group(1)

    def as_metadata(self) -> dict[str, str]:
        return {"lake_prefix": self.prefix, "lake_partition_field": self.partition_field, "lake_filename": self.filename}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any] | None) -> "LakeLocation":
        if not metadata or "lake_prefix" not in metadata:
            raise ValueError("assets stored in the lake need lake_* metadata (LakeLocation.as_metadata())")
        return cls(str(metadata["lake_prefix"]), str(metadata["lake_partition_field"]), str(metadata["lake_filename"]))
