-- The orders first seen on %(day)s: the carts as that snapshot holds them (one partition read).
WITH inserted AS (
    INSERT INTO dm.fct_orders (order_id, order_date, user_id, lines, units, gross_revenue, net_revenue)
    SELECT l.cart_id, l.snapshot_date, min(l.user_id), count(*), sum(l.quantity), sum(l.total), sum(l.discounted_total)
    FROM ods.fct_cart_lines AS l
    WHERE l.snapshot_date = %(day)s
      AND l.cart_id IN (SELECT cart_id FROM order_firsts WHERE first_day = %(day)s)
    GROUP BY l.cart_id, l.snapshot_date
    RETURNING order_date
)
INSERT INTO changed_order_dates SELECT DISTINCT order_date FROM inserted ON CONFLICT DO NOTHING
