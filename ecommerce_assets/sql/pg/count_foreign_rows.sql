-- Staged rows that do not belong to the partition being written (must be none).
SELECT count(*) FROM {stage} WHERE {partition_column} IS DISTINCT FROM %(partition)s
