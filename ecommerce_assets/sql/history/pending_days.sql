-- ODS snapshots the history has not taken in as they are now: loaded since, or loaded again after it
-- took them in; and snapshots it holds that the ODS no longer has. Ordered by day.
SELECT l.partition_date, l.loaded_at
FROM meta.partition_loads AS l
LEFT JOIN meta.history_applied AS a ON a.snapshot_date = l.partition_date
WHERE l.table_name = 'ods.fct_products' AND (a.snapshot_date IS NULL OR a.ods_loaded_at <> l.loaded_at)
UNION
SELECT a.snapshot_date, NULL
FROM meta.history_applied AS a
WHERE NOT EXISTS (SELECT 1 FROM meta.partition_loads AS l
                  WHERE l.table_name = 'ods.fct_products' AND l.partition_date = a.snapshot_date)
ORDER BY 1
