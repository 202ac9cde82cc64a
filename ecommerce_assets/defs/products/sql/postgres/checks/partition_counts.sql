-- Accepted and rejected rows of one ODS partition, and the accepted rows of the latest earlier partition.
WITH previous AS (
    SELECT max(snapshot_date) AS snapshot_date FROM ods.fct_products WHERE snapshot_date < %(partition)s
)
SELECT
    (SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %(partition)s),
    (SELECT count(*) FROM ods.rejected_products WHERE snapshot_date = %(partition)s),
    (SELECT count(*) FROM ods.fct_products WHERE snapshot_date = (SELECT snapshot_date FROM previous)),
    (SELECT snapshot_date::text FROM previous)
