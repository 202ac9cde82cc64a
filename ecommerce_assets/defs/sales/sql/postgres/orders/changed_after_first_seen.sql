-- Orders whose cart a later snapshot lists with other contents (counted by a warning, never twice).
SELECT o.order_id, min(s.snapshot_date) AS first_changed
FROM dm.fct_orders AS o
JOIN meta.cart_sightings AS f ON f.cart_id = o.order_id AND f.snapshot_date = o.order_date
JOIN meta.cart_sightings AS s ON s.cart_id = o.order_id AND s.snapshot_date > o.order_date
WHERE s.digest <> f.digest
GROUP BY o.order_id
ORDER BY o.order_id
