-- What one ODS day holds — accepted rows and rejected records — and what the loads that wrote them sent
-- (meta.partition_loads, recorded in each load's own transaction).
SELECT
    (SELECT count(*) FROM ods.fct_products WHERE snapshot_date = %(partition)s) AS stored_rows,
    (SELECT count(*) FROM ods.rejected_products WHERE snapshot_date = %(partition)s) AS stored_rejected,
    (SELECT row_count FROM meta.partition_loads
     WHERE table_name = 'ods.fct_products' AND partition_date = %(partition)s AND retired_at IS NULL) AS sent_rows,
    (SELECT row_count FROM meta.partition_loads
     WHERE table_name = 'ods.rejected_products' AND partition_date = %(partition)s AND retired_at IS NULL) AS sent_rejected
