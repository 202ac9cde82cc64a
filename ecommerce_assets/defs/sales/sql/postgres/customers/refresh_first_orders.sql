-- Their first order dates, found again; the old and the new dates change too. A customer without orders goes.
INSERT INTO changed_dates
SELECT first_order_date FROM meta.customer_first_orders WHERE user_id IN (SELECT user_id FROM changed_users)
ON CONFLICT DO NOTHING;
DELETE FROM meta.customer_first_orders WHERE user_id IN (SELECT user_id FROM changed_users);
WITH new AS (
    INSERT INTO meta.customer_first_orders (user_id, first_order_date)
    SELECT u.user_id, f.first_day
    FROM changed_users AS u
    CROSS JOIN LATERAL (SELECT min(o.order_date) AS first_day FROM dm.fct_orders AS o WHERE o.user_id = u.user_id) AS f
    WHERE f.first_day IS NOT NULL
    RETURNING first_order_date
)
INSERT INTO changed_dates SELECT DISTINCT first_order_date FROM new ON CONFLICT DO NOTHING
