-- Metabase card: product_count per category over time (read by the BI login from dm only).
SELECT report_date, category, product_count
FROM dm.fct_ecommerce
ORDER BY report_date, category
