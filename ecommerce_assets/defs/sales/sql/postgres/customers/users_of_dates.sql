-- The customers whose first order may have moved: those ordering on a changed date, and those whose first
-- order was on one.
INSERT INTO changed_users
SELECT user_id FROM dm.fct_orders WHERE order_date IN (SELECT day FROM changed_dates)
UNION
SELECT user_id FROM meta.customer_first_orders WHERE first_order_date IN (SELECT day FROM changed_dates)
ON CONFLICT DO NOTHING
