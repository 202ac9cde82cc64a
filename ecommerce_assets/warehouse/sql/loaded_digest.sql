-- The digest of the rows a stored, not retired partition was last loaded with (NULL: unknown).
SELECT content_digest FROM meta.partition_loads
WHERE table_name = %(table_name)s AND partition_date = %(partition)s AND retired_at IS NULL
