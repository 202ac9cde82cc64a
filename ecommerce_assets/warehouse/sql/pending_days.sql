-- Days of a source that a consumer has not taken in as they are now: loaded (or loaded again) since it took
-- them in — with their load time — and days it took in that the source no longer has — with NULL. The source
-- is a day-partitioned table (its loads in meta.partition_loads), or with %(of_consumer)s another consumer
-- (the days that one has taken in). Ordered by day.
WITH source AS (
    SELECT partition_date AS day, loaded_at FROM meta.partition_loads
    WHERE NOT %(of_consumer)s AND table_name = %(source)s
    UNION ALL
    SELECT snapshot_date, loaded_at FROM meta.applied_loads
    WHERE %(of_consumer)s AND consumer = %(source)s
), applied AS (
    SELECT snapshot_date AS day, loaded_at FROM meta.applied_loads
    WHERE consumer = %(consumer)s AND source = %(source)s
)
SELECT s.day, s.loaded_at
FROM source AS s
LEFT JOIN applied AS a USING (day)
WHERE a.day IS NULL OR a.loaded_at <> s.loaded_at
UNION ALL
SELECT a.day, NULL
FROM applied AS a
WHERE NOT EXISTS (SELECT 1 FROM source AS s WHERE s.day = a.day)
ORDER BY 1
