SELECT category, orders, units, gross_revenue, net_revenue, customers
FROM dm.fct_sales WHERE order_date = %(day)s ORDER BY net_revenue DESC, category
