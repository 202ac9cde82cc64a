DELETE FROM dm.fct_sales WHERE order_date = %(day)s
