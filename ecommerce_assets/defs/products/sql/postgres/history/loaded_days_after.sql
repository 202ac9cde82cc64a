-- Every ODS snapshot still stored after a day (all of them when the day is NULL), in order, with its load time.
SELECT partition_date, loaded_at FROM meta.partition_loads
WHERE table_name = 'ods.fct_products' AND retired_at IS NULL AND (%(day)s::date IS NULL OR partition_date > %(day)s)
ORDER BY partition_date
