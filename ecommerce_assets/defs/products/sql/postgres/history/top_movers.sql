-- The largest price changes of a day, by size of the move.
SELECT product_id, old_value, new_value, price_change_pct FROM dm.fct_product_changes
WHERE change_date = %(day)s AND change_type = 'price_changed' AND price_change_pct IS NOT NULL
ORDER BY abs(price_change_pct) DESC, product_id
LIMIT %(top)s
