-- One product's intervals, oldest first.
SELECT valid_from, valid_to, price, stock, availability_status, category
FROM dm.dim_product_history WHERE product_id = %(product_id)s ORDER BY valid_from
