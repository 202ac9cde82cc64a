-- The changed report dates, derived again from the orders and each customer's first order date.
DELETE FROM dm.fct_customers_daily WHERE report_date IN (SELECT day FROM changed_dates);
INSERT INTO dm.fct_customers_daily (report_date, orders, customers, new_customers, returning_customers, net_revenue,
                                    avg_order_value)
SELECT o.order_date,
       count(*),
       count(DISTINCT o.user_id),
       count(DISTINCT o.user_id) FILTER (WHERE f.first_order_date = o.order_date),
       count(DISTINCT o.user_id) FILTER (WHERE f.first_order_date < o.order_date),
       sum(o.net_revenue),
       round(sum(o.net_revenue) / count(*), 2)
FROM dm.fct_orders AS o
JOIN meta.customer_first_orders AS f USING (user_id)
WHERE o.order_date IN (SELECT day FROM changed_dates)
GROUP BY o.order_date
