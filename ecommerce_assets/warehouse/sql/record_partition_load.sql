-- Marks a partition of a table as loaded (in the load's transaction). loaded_at is when the partition's
-- rows last changed: a reload that changed nothing keeps it (what is derived from the partition, such as
-- the product history, then has nothing to redo). A day dropped by retention and loaded again from its
-- raw snapshot keeps it too: the history it fed outlived it and is not re-derived.
INSERT INTO meta.partition_loads (table_name, partition_date, row_count, content_digest)
VALUES (%(table_name)s, %(partition)s, %(row_count)s, %(digest)s)
ON CONFLICT (table_name, partition_date) DO UPDATE SET
    row_count = EXCLUDED.row_count,
    content_digest = EXCLUDED.content_digest,
    loaded_at = CASE WHEN %(changed)s AND meta.partition_loads.retired_at IS NULL THEN now()
                     ELSE meta.partition_loads.loaded_at END,
    retired_at = NULL
