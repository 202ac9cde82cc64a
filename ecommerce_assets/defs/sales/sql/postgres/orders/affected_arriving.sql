-- The carts of day %(day)s whose order it may now be: no order yet, or an order first seen that day or later.
INSERT INTO affected_carts
SELECT s.cart_id
FROM meta.cart_sightings AS s
LEFT JOIN dm.fct_orders AS o ON o.order_id = s.cart_id
WHERE s.snapshot_date = %(day)s AND (o.order_id IS NULL OR o.order_date >= s.snapshot_date)
ON CONFLICT DO NOTHING
