-- Report dates whose row differs from what the orders of the date give (or a date on one side only).
WITH expected AS (
    SELECT order_date AS report_date, count(*) AS orders, count(DISTINCT user_id) AS customers,
           sum(net_revenue) AS net_revenue
    FROM dm.fct_orders GROUP BY order_date
)
SELECT report_date, e.orders, d.orders, e.customers, d.customers, e.net_revenue, d.net_revenue
FROM expected AS e
FULL JOIN dm.fct_customers_daily AS d USING (report_date)
WHERE (e.orders, e.customers, e.net_revenue) IS DISTINCT FROM (d.orders, d.customers, d.net_revenue)
ORDER BY report_date
