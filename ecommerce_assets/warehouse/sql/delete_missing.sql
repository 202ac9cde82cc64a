-- Remove the partition's rows that are no longer in the staged snapshot.
DELETE FROM {target} AS t
WHERE t.{partition_column} = %(partition)s
  AND NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {key_match})
