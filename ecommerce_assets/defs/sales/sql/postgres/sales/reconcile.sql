-- Order dates where the sales, summed over categories, differ from the orders of the date (net revenue to
-- the cent, or a date on one side only).
WITH orders AS (
    SELECT order_date, sum(net_revenue) AS net FROM dm.fct_orders GROUP BY order_date
), sales AS (
    SELECT order_date, sum(net_revenue) AS net FROM dm.fct_sales GROUP BY order_date
)
SELECT order_date, o.net AS orders_net_revenue, s.net AS sales_net_revenue
FROM orders AS o
FULL JOIN sales AS s USING (order_date)
WHERE o.net IS DISTINCT FROM s.net
ORDER BY order_date
