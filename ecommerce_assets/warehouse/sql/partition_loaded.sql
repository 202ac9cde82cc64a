-- Whether a partition of a table is loaded (ever loaded, and not dropped by retention since).
SELECT EXISTS (
    SELECT 1 FROM meta.partition_loads
    WHERE table_name = %(table_name)s AND partition_date = %(partition)s AND retired_at IS NULL
)
