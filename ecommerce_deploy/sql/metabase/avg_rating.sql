-- Metabase card: avg_rating per category over time (read by the BI login from dm only).
SELECT report_date, category, avg_rating
FROM dm.fct_ecommerce
ORDER BY report_date, category
