-- A day dropped by retention: not loaded any more, but remembered (what was derived from it stays).
UPDATE meta.partition_loads SET retired_at = now()
WHERE table_name = %(table_name)s AND partition_date = %(partition)s
