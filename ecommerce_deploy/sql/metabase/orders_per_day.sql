-- Metabase card: orders (carts as first seen) and net revenue per day.
SELECT report_date, orders, net_revenue, avg_order_value
FROM dm.fct_customers_daily
ORDER BY report_date
