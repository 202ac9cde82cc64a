-- The product whose price changed most often in a period (ties: the lowest id), with its title.
SELECT c.product_id, h.title, count(*) AS price_changes
FROM dm.fct_product_changes AS c
JOIN dm.dim_product_history AS h ON h.product_id = c.product_id AND h.valid_from <= c.change_date
                                 AND (h.valid_to IS NULL OR h.valid_to > c.change_date)
WHERE c.change_type = 'price_changed' AND c.change_date BETWEEN %(first)s AND %(last)s
GROUP BY c.product_id, h.title
ORDER BY count(*) DESC, c.product_id
LIMIT 1
