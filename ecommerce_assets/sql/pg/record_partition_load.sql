-- Marks a partition of a table as loaded (in the load's transaction).
INSERT INTO meta.partition_loads (table_name, partition_date, row_count)
VALUES (%(table_name)s, %(partition)s, %(row_count)s)
ON CONFLICT (table_name, partition_date) DO UPDATE SET row_count = EXCLUDED.row_count, loaded_at = now()
