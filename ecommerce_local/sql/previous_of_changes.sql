-- The snapshot a day's changes were derived against (NULL: the first snapshot).
SELECT max(partition_date) FROM meta.partition_loads
WHERE table_name = 'ods.fct_products' AND partition_date < %(day)s
