-- Metabase card: products out of stock each day, per category.
SELECT report_date, category, out_of_stock_count
FROM dm.fct_ecommerce
WHERE out_of_stock_count IS NOT NULL
ORDER BY report_date, category
