-- What one ODS partition holds: accepted rows and rejected records.
SELECT
    (SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %(partition)s) AS accepted,
    (SELECT count(*) FROM ods.rejected_products WHERE snapshot_date = %(partition)s) AS rejected
