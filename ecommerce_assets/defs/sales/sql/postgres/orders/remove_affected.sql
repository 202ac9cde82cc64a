-- The affected carts' orders go (their dates recorded as changed); they are derived again below.
WITH removed AS (
    DELETE FROM dm.fct_orders WHERE order_id IN (SELECT cart_id FROM affected_carts) RETURNING order_date
)
INSERT INTO changed_order_dates SELECT DISTINCT order_date FROM removed ON CONFLICT DO NOTHING
