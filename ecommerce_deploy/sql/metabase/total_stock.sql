-- Metabase card: total_stock per category over time (read by the BI login from dm only).
SELECT report_date, category, total_stock
FROM dm.fct_ecommerce
ORDER BY report_date, category
