-- The latest ODS snapshot loaded before a day (NULL when there is none): what the day is compared with.
SELECT max(partition_date) FROM meta.partition_loads
WHERE table_name = 'ods.fct_products' AND partition_date < %(day)s
  AND retired_at IS NULL
