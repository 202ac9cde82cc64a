-- Before day %(day)s is taken in again (or out): the carts whose order was first seen on it.
INSERT INTO affected_carts
SELECT s.cart_id
FROM meta.cart_sightings AS s
JOIN dm.fct_orders AS o ON o.order_id = s.cart_id AND o.order_date = s.snapshot_date
WHERE s.snapshot_date = %(day)s
ON CONFLICT DO NOTHING
