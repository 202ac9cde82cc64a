-- Each changed order date with the orders it now holds (0: none left).
SELECT c.day, count(o.order_id)
FROM changed_order_dates AS c
LEFT JOIN dm.fct_orders AS o ON o.order_date = c.day
GROUP BY c.day
ORDER BY c.day
