"""The one owner of the S3 lake: where partitions live (`LakeLocation`), Parquet objects written whole or not
at all, read back through a local copy, listed, described. Everything goes through `LakeResource`."""

from ecommerce_assets.lake.locations import LakeLocation
from ecommerce_assets.lake.objects import StoredObject, UnreadableObject
from ecommerce_assets.lake.resource import LakeResource

__all__ = ["LakeLocation", "LakeResource", "StoredObject", "UnreadableObject"]
