-- The first ODS snapshot loaded after a day (NULL when there is none): the day whose changes a late
-- (re)load of this one alters.
SELECT min(partition_date) FROM meta.partition_loads
WHERE table_name = 'ods.fct_products' AND partition_date > %(day)s
  AND retired_at IS NULL
