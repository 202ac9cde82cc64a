"""Pure transforms: no Dagster, no network; tested with plain tables."""
