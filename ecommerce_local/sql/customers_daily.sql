SELECT report_date, orders, customers, new_customers, returning_customers, net_revenue, avg_order_value
FROM dm.fct_customers_daily WHERE report_date BETWEEN %(first)s AND %(last)s ORDER BY report_date
