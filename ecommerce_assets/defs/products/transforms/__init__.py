"""The product domain's pure transforms: the ODS rules, the mart's arithmetic and the gates' judgements —
DuckDB and Arrow, no Dagster, no I/O."""
