SELECT
    (SELECT count(*) FROM ods.dim_customers WHERE snapshot_date = %(partition)s) AS stored_users,
    (SELECT count(*) FROM ods.rejected_users WHERE snapshot_date = %(partition)s) AS rejected_users,
    (SELECT row_count FROM meta.partition_loads
     WHERE table_name = 'ods.dim_customers' AND partition_date = %(partition)s AND retired_at IS NULL) AS sent_users
