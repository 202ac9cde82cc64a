SELECT DISTINCT first_day FROM order_firsts ORDER BY 1
