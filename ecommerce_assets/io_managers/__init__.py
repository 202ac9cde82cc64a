"""IO managers: Parquet objects in the S3 lake, partitions of PostgreSQL tables."""

from ecommerce_assets.io_managers.postgres_table import PartitionWrite, PostgresTableIOManager
from ecommerce_assets.io_managers.s3_parquet import BatchStream, LakeLocation, ReuseStored, S3ParquetIOManager

__all__ = [
    "BatchStream", "LakeLocation", "PartitionWrite", "PostgresTableIOManager", "ReuseStored", "S3ParquetIOManager",
]
