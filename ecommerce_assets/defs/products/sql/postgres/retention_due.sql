-- Days of a day-partitioned ODS table that fall out of its retention: older than the newest stored day
-- minus the days kept, and only once the product history has taken the day in as it is (what it derives
-- must not lose a day).
SELECT l.partition_date FROM meta.partition_loads AS l
WHERE l.table_name = %(table_name)s AND l.retired_at IS NULL
  AND l.partition_date <= (SELECT max(partition_date) FROM meta.partition_loads
                           WHERE table_name = %(table_name)s AND retired_at IS NULL) - %(keep_days)s::int
  AND EXISTS (SELECT 1 FROM meta.applied_loads AS a
              WHERE a.consumer = 'dm.dim_product_history' AND a.source = %(table_name)s
                AND a.snapshot_date = l.partition_date AND a.loaded_at = l.loaded_at)
ORDER BY l.partition_date
