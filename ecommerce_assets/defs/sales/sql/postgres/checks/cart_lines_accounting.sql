-- What one day of carts holds in the ODS — stored lines, and the lines of the carts rejected — and what the
-- loads that wrote them sent (meta.partition_loads).
SELECT
    (SELECT count(*) FROM ods.fct_cart_lines WHERE snapshot_date = %(partition)s) AS stored_lines,
    (SELECT count(*) FROM ods.rejected_carts WHERE snapshot_date = %(partition)s) AS rejected_carts,
    (SELECT coalesce(sum(lines), 0) FROM ods.rejected_carts WHERE snapshot_date = %(partition)s) AS rejected_lines,
    (SELECT row_count FROM meta.partition_loads
     WHERE table_name = 'ods.fct_cart_lines' AND partition_date = %(partition)s AND retired_at IS NULL) AS sent_lines
