-- The products whose price changed on a day (ADBC: $1 = the day).
SELECT product_id FROM dm.fct_product_changes WHERE change_date = $1 AND change_type = 'price_changed'
