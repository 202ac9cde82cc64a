-- Each affected cart's first loaded snapshot (one index probe per cart); a cart in no snapshot has none.
INSERT INTO order_firsts (cart_id, first_day)
SELECT a.cart_id, f.first_day
FROM affected_carts AS a
CROSS JOIN LATERAL (SELECT min(s.snapshot_date) AS first_day FROM meta.cart_sightings AS s
                    WHERE s.cart_id = a.cart_id) AS f
WHERE f.first_day IS NOT NULL
