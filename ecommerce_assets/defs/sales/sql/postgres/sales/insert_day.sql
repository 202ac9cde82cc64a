-- The sales of order date %(day)s per category: each line's category is its product's on the order date, from
-- the product history ('(unknown)' where the history holds no interval of the product that day). The history is
-- looked up once per product of the day's lines, not once per line (a day's 300,000 lines name ~10,000 products); both
-- are materialized, so no estimate can turn the lookup back into one per line.
WITH lines AS MATERIALIZED (
    SELECT o.order_date, o.order_id, o.user_id, l.product_id, l.quantity, l.total, l.discounted_total
    FROM dm.fct_orders AS o
    JOIN ods.fct_cart_lines AS l ON l.snapshot_date = %(day)s AND l.cart_id = o.order_id
    WHERE o.order_date = %(day)s
),
categories AS MATERIALIZED (
    SELECT h.product_id, h.category
    FROM (SELECT DISTINCT product_id FROM lines) AS p
    JOIN dm.dim_product_history AS h
      ON h.product_id = p.product_id AND h.valid_from <= %(day)s AND (h.valid_to IS NULL OR h.valid_to > %(day)s)
)
INSERT INTO dm.fct_sales (order_date, category, orders, units, gross_revenue, net_revenue, customers)
SELECT s.order_date,
       coalesce(c.category, '(unknown)'),
       count(DISTINCT s.order_id),
       sum(s.quantity),
       sum(s.total),
       sum(s.discounted_total),
       count(DISTINCT s.user_id)
FROM lines AS s
LEFT JOIN categories AS c USING (product_id)
GROUP BY s.order_date, coalesce(c.category, '(unknown)')
