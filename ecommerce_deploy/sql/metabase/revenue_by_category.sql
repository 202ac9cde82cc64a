-- Metabase card: net revenue per category and order date (a line's category as of its order date).
SELECT order_date, category, net_revenue
FROM dm.fct_sales
ORDER BY order_date, category
