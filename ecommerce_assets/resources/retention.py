"""How long the warehouse keeps what the lake archives."""

from dagster import ConfigurableResource
from pydantic import Field


class RetentionSettings(ConfigurableResource):
    """Days of ODS snapshots kept in PostgreSQL; older days are dropped (the raw Parquet in the lake stays
    the archive, and a dropped day can be loaded again from it)."""

    ods_days: int = Field(default=0, ge=0,
                          description="ODS snapshot days kept, counted back from the newest stored day; 0 keeps "
                                      "every day ($ECOM_ODS_RETENTION_DAYS)")
