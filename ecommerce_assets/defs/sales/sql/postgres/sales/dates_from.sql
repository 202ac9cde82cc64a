-- Order dates on or after %(day)s that hold orders or sales rows (a product history change from that day on
-- may change their categories).
SELECT order_date FROM dm.fct_orders WHERE order_date >= %(day)s
UNION
SELECT order_date FROM dm.fct_sales WHERE order_date >= %(day)s
