-- Accepted and rejected rows of one ODS partition and, when %(with_previous)s, the accepted rows of the latest
-- earlier partition with its date (NULL when there is none: no partition is scanned for it then).
WITH previous AS (
    SELECT max(snapshot_date) AS snapshot_date FROM ods.fct_products
    WHERE %(with_previous)s AND snapshot_date < %(partition)s
)
SELECT
    (SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %(partition)s),
    (SELECT count(*) FROM ods.rejected_products WHERE snapshot_date = %(partition)s),
    CASE WHEN (SELECT snapshot_date FROM previous) IS NOT NULL THEN
        (SELECT count(*) FROM ods.fct_products WHERE snapshot_date = (SELECT snapshot_date FROM previous))
    END,
    (SELECT snapshot_date::text FROM previous)
