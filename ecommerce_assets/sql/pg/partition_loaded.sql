-- Whether a partition of a table was ever loaded.
SELECT EXISTS (
    SELECT 1 FROM meta.partition_loads WHERE table_name = %(table_name)s AND partition_date = %(partition)s
)
