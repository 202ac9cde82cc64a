-- Metabase card: avg_price per category over time (read by the BI login from dm only).
SELECT report_date, category, avg_price
FROM dm.fct_ecommerce
ORDER BY report_date, category
