-- Their first order dates, found again. Only a first order date that moved (came, went or changed) changes other
-- report dates: its old and its new date, whose new and returning customers differ. A customer whose first
-- order date stayed changes none — the dates of their changed orders are derived again anyway — so a new day of
-- orders from known customers leaves every earlier date alone. A customer without orders goes.
CREATE TEMP TABLE moved_firsts ON COMMIT DROP AS
SELECT u.user_id, c.first_order_date AS old_day, f.first_day AS new_day
FROM changed_users AS u
LEFT JOIN meta.customer_first_orders AS c USING (user_id)
CROSS JOIN LATERAL (SELECT min(o.order_date) AS first_day FROM dm.fct_orders AS o WHERE o.user_id = u.user_id) AS f
WHERE c.first_order_date IS DISTINCT FROM f.first_day;
DELETE FROM meta.customer_first_orders AS c USING moved_firsts AS m WHERE c.user_id = m.user_id AND m.new_day IS NULL;
INSERT INTO meta.customer_first_orders (user_id, first_order_date)
SELECT user_id, new_day FROM moved_firsts WHERE new_day IS NOT NULL
ON CONFLICT (user_id) DO UPDATE SET first_order_date = EXCLUDED.first_order_date;
INSERT INTO changed_dates
SELECT old_day FROM moved_firsts WHERE old_day IS NOT NULL
UNION
SELECT new_day FROM moved_firsts WHERE new_day IS NOT NULL
ON CONFLICT DO NOTHING
