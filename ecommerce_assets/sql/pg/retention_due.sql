-- Days of a table that fall out of its retention: older than the newest stored day minus the days kept,
-- except the day just loaded (loading an old day again on purpose keeps it until the next load).
SELECT partition_date FROM meta.partition_loads
WHERE table_name = %(table_name)s AND retired_at IS NULL AND partition_date <> %(just_loaded)s
  AND partition_date <= (SELECT max(partition_date) FROM meta.partition_loads
                         WHERE table_name = %(table_name)s AND retired_at IS NULL) - %(keep_days)s::int
ORDER BY partition_date
